// Package redistest runs a real redis-server on 127.0.0.1 for tests. Under
// CI=true a missing redis-server fails the test (CI installs the Debian
// package); elsewhere the test is skipped with the install hint.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/freeport"
)

// Server is a redis-server process on a fixed free port, without
// persistence. Stop kills it (a crash: nothing is saved); Start runs it again
// on the same port.
type Server struct {
	t    testing.TB
	bin  string
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when its output is drained
}

// New finds redis-server and picks a free port; Start runs it. The server is
// stopped when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found (install the Debian package redis-server): %v", err)
		}
		t.Skipf("redis-server not found (apt-get install -y redis-server): %v", err)
	}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, bin: bin, port: port}
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start runs redis-server and waits for its ready line.
func (s *Server) Start() {
	s.t.Helper()
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	ready := make(chan struct{})
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				close(ready)
			}
		}
	}()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	select {
	case <-ready:
	case <-s.done:
		s.t.Fatalf("redis-server on port %d exited before it was ready", s.port)
	case <-deadline.C:
		s.t.Fatalf("redis-server on port %d not ready after 10s", s.port)
	}
}

// Stop kills the server, by its PID, and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }
