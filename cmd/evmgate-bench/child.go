package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process this command started (fake nodes or a gateway); it is
// stopped by its PID.
type child struct {
	cmd  *exec.Cmd
	done chan error
}

// startChild runs this program with args, its stderr going to logPath.
func startChild(exe, logPath string, args ...string) (*child, io.Reader, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, nil, fmt.Errorf("starting %s %s: %w", exe, args[0], err)
	}
	c := &child{cmd: cmd, done: make(chan error, 1)}
	go func() {
		// Read stdout to its end before Wait closes the pipe.
		err := cmd.Wait()
		log.Close()
		c.done <- err
	}()
	return c, out, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// startFakes starts `fakes` with args and returns it and the n node URLs it
// printed.
func startFakes(exe, logPath string, n int, args ...string) (*child, []string, error) {
	c, out, err := startChild(exe, logPath, append([]string{"fakes", "-n", strconv.Itoa(n)}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	urls := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(out)
		for len(got) < n && sc.Scan() {
			got = append(got, sc.Text())
		}
		urls <- got
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case got := <-urls:
		if len(got) == n {
			return c, got, nil
		}
	case <-time.After(15 * time.Second):
	}
	c.stop()
	return nil, nil, fmt.Errorf("fake nodes did not start: see %s", logPath)
}

// rpc posts one JSON-RPC body to url and returns the answer and its
// X-Cache header.
func rpc(url, body string) (answer []byte, xcache string, err error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: HTTP %d: %.200s", url, resp.StatusCode, b)
	}
	return b, resp.Header.Get("X-Cache"), err
}

// waitFor retries ok every 50 ms until it returns nil, for up to 20 s.
func waitFor(what string, ok func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := ok()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nodeCalls sums how many calls of method the fake nodes at urls received.
func nodeCalls(urls []string, method string) (int64, error) {
	var sum int64
	for _, u := range urls {
		b, _, err := rpc(u, `{"jsonrpc":"2.0","id":1,"method":"fakenode_calls","params":["`+method+`"]}`)
		if err != nil {
			return 0, err
		}
		_, v, ok := bytes.Cut(b, []byte(`"result":"0x`))
		if !ok {
			return 0, fmt.Errorf("fake node %s answered %.120s", u, b)
		}
		n, err := strconv.ParseInt(string(v[:bytes.IndexByte(v, '"')]), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("fake node %s answered %.120s", u, b)
		}
		sum += n
	}
	return sum, nil
}

// hedgeCounts reads evmgate_hedges_total by outcome from a /metrics URL.
func hedgeCounts(url string) (map[string]float64, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "evmgate_hedges_total{") {
			continue
		}
		_, rest, _ := strings.Cut(line, `outcome="`)
		outcome, _, _ := strings.Cut(rest, `"`)
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[outcome] += v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(url + ": " + resp.Status)
	}
	return out, nil
}
