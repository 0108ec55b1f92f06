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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process this command started (fake nodes, a gateway or a
// burst); it is stopped by its PID.
type child struct {
	cmd *exec.Cmd
	// lines is its stdout, one line each, closed when it ends; lines
	// nobody takes past the first 64 are dropped.
	lines chan string
	done  chan struct{} // closed when it has ended
	err   error         // how it ended; set before done is closed
}

// startChild runs this program with args, its stderr going to logPath.
func startChild(exe, logPath string, args ...string) (*child, error) {
	return startChildVia(nil, exe, logPath, args...)
}

// startChildVia runs prefix (a program that execs the rest of its
// arguments, such as chrt or nice; nil: none) with exe and args, its stderr
// going to logPath. The PID is that of exe once the prefix has exec'd it.
func startChildVia(prefix []string, exe, logPath string, args ...string) (*child, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	argv := append(append(slices.Clone(prefix), exe), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("starting %s %s: %w", exe, args[0], err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		// Read stdout to its end before Wait closes the pipe.
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case c.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, out)
		close(c.lines)
		c.err = cmd.Wait()
		log.Close()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop ends the process, if it has not ended: SIGTERM, then SIGKILL
// after 5 s. It returns how the process ended.
func (c *child) stop() error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	return c.err
}

// stopAll stops children, the last started first.
func stopAll(children []*child) {
	for i := len(children) - 1; i >= 0; i-- {
		_ = children[i].stop()
	}
}

// nextLine returns the child's next stdout line, waiting up to wait; it
// fails when the child ends first or the wait runs out.
func (c *child) nextLine(what, logPath string, wait time.Duration) (string, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case l, ok := <-c.lines:
		if ok {
			return l, nil
		}
		return "", fmt.Errorf("%s ended before printing %s: see %s", c.cmd.Args[0], what, logPath)
	case <-t.C:
		return "", fmt.Errorf("%s printed no %s in %s: see %s", c.cmd.Args[0], what, wait, logPath)
	}
}

// startFakes starts `fakes` with args and returns it and the n node URLs it
// printed.
func startFakes(exe, logPath string, n int, args ...string) (*child, []string, error) {
	c, err := startChild(exe, logPath, append([]string{"fakes", "-n", strconv.Itoa(n)}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	var urls []string
	deadline := time.Now().Add(15 * time.Second)
	for len(urls) < n {
		u, err := c.nextLine("a node URL", logPath, time.Until(deadline))
		if err != nil {
			_ = c.stop()
			return nil, nil, fmt.Errorf("fake nodes did not start: %w", err)
		}
		urls = append(urls, u)
	}
	return c, urls, nil
}

// startServe writes cfg to dir/label.yaml and runs `serve` with it, its
// profiling endpoints on 127.0.0.1:pprofPort and its log in dir/label.log.
func startServe(exe, dir, label, cfg string, pprofPort int) (*child, error) {
	path := filepath.Join(dir, label+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return startChild(exe, filepath.Join(dir, label+".log"),
		"serve", "-config", path, "-pprof", "127.0.0.1:"+strconv.Itoa(pprofPort))
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
