package main

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// limits.max_connections on a running process: with two connections held
// open, a third is accepted by the kernel but not served; it is served as
// soon as one of the two closes.
func TestMaxConnectionsAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"limits:\n  max_connections: 2\nnetworks:\n  - name: mainnet\n    chain_id: 1\n    local_nodes:\n      - rpc_endpoint: "+f.URL()+"\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	request := "POST /mainnet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		itoa(len(apmBlockNumber)) + "\r\n\r\n" + apmBlockNumber
	// call sends one request on c and reads the answer's status line.
	call := func(c net.Conn, within time.Duration) (string, error) {
		if _, err := c.Write([]byte(request)); err != nil {
			return "", err
		}
		_ = c.SetReadDeadline(time.Now().Add(within))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		return resp.Status, nil
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr(rpcPort))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	held := []net.Conn{dial(), dial()}
	for i, c := range held {
		if status, err := call(c, 30*time.Second); err != nil || status != "200 OK" {
			t.Fatalf("connection %d of 2: %q %v", i+1, status, err)
		}
	}
	third := dial()
	if status, err := call(third, time.Second); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection over max_connections 2 was served: %q %v", status, err)
	}
	held[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the third connection once one closed: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if strings.Contains(p.stderr.String(), "level=ERROR") {
		t.Fatalf("errors logged:\n%s", grepLines(p.stderr.String(), "level=ERROR"))
	}
}
