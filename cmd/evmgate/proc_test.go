package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/freeport"
)

// The tests in the *_proc_test.go files build the evmgate binary once and
// run it the way the README tells users to: as a process, over real sockets
// on 127.0.0.1.

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// evmgateBin builds the binary on first use and returns its path.
func evmgateBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "evmgate-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "evmgate")
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		cmd := exec.Command(goBin, "build", "-o", binPath, ".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// syncBuf collects a stream and wakes waiters on every write.
type syncBuf struct {
	mu      sync.Mutex // mu protects b and changed
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuf() *syncBuf { return &syncBuf{changed: make(chan struct{})} }

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return len(p), nil
}

// snapshot returns the text so far and a channel closed at the next write.
func (s *syncBuf) snapshot() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.changed
}

func (s *syncBuf) String() string { text, _ := s.snapshot(); return text }

// proc is a running evmgate process.
type proc struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdout   *syncBuf
	stderr   *syncBuf
	done     chan struct{} // closed when the process has exited
	exitCode int
}

// startProc runs evmgate with args (and extra environment) until the test ends.
func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startProcTee(t, env, nil, args...)
}

// startProcTee is startProc with the process's stderr also written to
// stderrCopy (when not nil), as a shell redirection to a file would.
func startProcTee(t *testing.T, env []string, stderrCopy io.Writer, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, stdout: newSyncBuf(), stderr: newSyncBuf(), done: make(chan struct{})}
	p.cmd = exec.Command(evmgateBin(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if stderrCopy != nil {
		p.cmd.Stderr = io.MultiWriter(p.stderr, stderrCopy)
	}
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting evmgate %v: %v", args, err)
	}
	go func() {
		err := p.cmd.Wait()
		p.exitCode = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.exitCode = ee.ExitCode()
		} else if err != nil {
			p.exitCode = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("evmgate %v stdout:\n%s\nstderr:\n%s", args, p.stdout, p.stderr)
		}
	})
	return p
}

// waitOutput waits until stream holds substr and returns the text so far.
// It fails when the process exits first or the time is up.
func (p *proc) waitOutput(stream *syncBuf, substr string, within time.Duration) string {
	p.t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		text, changed := stream.snapshot()
		if strings.Contains(text, substr) {
			return text
		}
		select {
		case <-changed:
		case <-p.done:
			if text := stream.String(); strings.Contains(text, substr) {
				return text
			}
			p.t.Fatalf("evmgate exited (code %d) before printing %q\nstdout:\n%s\nstderr:\n%s", p.exitCode, substr, p.stdout, p.stderr)
		case <-timer.C:
			p.t.Fatalf("evmgate did not print %q within %v\nstdout:\n%s\nstderr:\n%s", substr, within, p.stdout, p.stderr)
		}
	}
}

// terminate sends SIGTERM and waits for the exit; it returns the exit code
// and how long the process took to exit.
func (p *proc) terminate(within time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
		return p.exitCode, time.Since(start)
	case <-time.After(within):
		p.t.Fatalf("evmgate did not exit within %v of SIGTERM\nstderr:\n%s", within, p.stderr)
		return 0, 0
	}
}

// runProc runs a short command to its end and returns its exit code and output.
func runProc(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runProcEnv(t, nil, args...)
}

// runProcEnv is runProc with env added to the process's environment.
func runProcEnv(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	bin := evmgateBin(t) // the first use builds it: not within the run's time
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running evmgate %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// refused reports whether nothing listens at addr any more.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// rpc posts one JSON-RPC body and returns the status and the answer.
func rpc(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer of %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// get fetches url and returns the status and the body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond until it holds, failing after within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func grepLines(text, substr string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

const chainIDCall = `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`

// configFiles is a configuration path that is a symlink, as a Kubernetes
// ConfigMap volume mounts it: replace swaps the symlink to a new file (the
// directory watch sees it), rewriteTarget changes the file it points to in
// another directory (no watch sees it; SIGHUP does).
type configFiles struct {
	t       *testing.T
	path    string
	targets string
	n       int
}

func newConfigFiles(t *testing.T) *configFiles {
	return &configFiles{t: t, path: filepath.Join(t.TempDir(), "evmgate.yaml"), targets: t.TempDir()}
}

func (cf *configFiles) replace(text string) {
	cf.n++
	target := filepath.Join(cf.targets, fmt.Sprintf("evmgate-%d.yaml", cf.n))
	writeFile(cf.t, target, text)
	tmp := cf.path + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		cf.t.Fatal(err)
	}
	if err := os.Rename(tmp, cf.path); err != nil {
		cf.t.Fatal(err)
	}
}

func (cf *configFiles) rewriteTarget(text string) {
	writeFile(cf.t, filepath.Join(cf.targets, fmt.Sprintf("evmgate-%d.yaml", cf.n)), text)
}
