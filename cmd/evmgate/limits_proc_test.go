//go:build !nodemo

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

const (
	slowConns    = 1000             // connections of the slowloris attacker
	attackLength = 12 * time.Second // longer than read_header_timeout: each slow connection is cut once
)

// A slowloris attacker — 1,000 connections from one address, each sending
// one more header byte per second — does not stop normal clients: every
// call they make during the attack succeeds. With max_connections_per_ip
// at 1,000, the attacker's 1,001st connection is closed at once while
// another address is served. Headers over max_header_bytes get 431.
func TestSlowlorisAsProcess(t *testing.T) {
	raiseFileLimit(t, 4*slowConns+1024)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	dn, err := devnet.Start(ctx, devnet.Config{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	node := dn.Nodes()[0].HTTPURL()
	t.Run("no per-IP limit", func(t *testing.T) {
		g := startLimited(t, node, "")
		checkHeaderLimit(t, g.rpc)
		a := startSlowloris(t, g.rpc, slowConns)
		calls := normalCalls(t, g.rpc+"/devnet", loopback(1), attackLength)
		r := a.stop()
		t.Logf("during the attack: %s; attacker: %d connections opened, %d cut by the gateway", calls, r.opened, r.cut)
		if r.cut == 0 {
			t.Error("no slow connection was cut: read_header_timeout did not apply")
		}
	})
	t.Run("max_connections_per_ip 1000", func(t *testing.T) {
		g := startLimited(t, node, fmt.Sprintf("  max_connections_per_ip: %d\n", slowConns))
		a := startSlowloris(t, g.rpc, slowConns)
		eventually(t, time.Minute, "the attacker's connections to be open", func() bool {
			return metricLine(t, g.metrics, `evmgate_listener_connections{listener="rpc"}`) == fmt.Sprint(slowConns)
		})
		if err := oneMore(g.rpc); err != nil {
			t.Errorf("connection %d from the attacker's address: %v", slowConns+1, err)
		}
		calls := normalCalls(t, g.rpc+"/devnet", loopback(2), attackLength)
		r := a.stop()
		t.Logf("during the attack: %s; attacker: %d connections opened, %d cut by the gateway", calls, r.opened, r.cut)
		if v := metricLine(t, g.metrics, `evmgate_listener_refused_connections_total{listener="rpc",reason="per_ip"}`); v == "" || v == "0" {
			t.Errorf("refused connections not counted: %q", v)
		}
	})
}

type limitedGateway struct{ rpc, metrics string }

// startLimited runs the binary in front of node with the limits: lines given.
func startLimited(t *testing.T, node, limits string) limitedGateway {
	t.Helper()
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"limits:\n  read_header_timeout: 10s\n"+limits+
		fmt.Sprintf("networks:\n  - name: devnet\n    local_nodes:\n      - rpc_endpoint: %q\n", node))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	t.Cleanup(func() {
		if code, took := p.terminate(30 * time.Second); code != 0 {
			t.Errorf("exit code %d after SIGTERM (%v)", code, took)
		}
	})
	return limitedGateway{rpc: "http://" + addr(rpcPort), metrics: "http://" + addr(metricsPort)}
}

// checkHeaderLimit sends headers over the default max_header_bytes.
func checkHeaderLimit(t *testing.T, base string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/devnet", strings.NewReader(clientVersion))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("100 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// oneMore opens one more connection from 127.0.0.1 and wants it closed by
// the gateway before any byte is sent.
func oneMore(base string) error {
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	return fmt.Errorf("not closed by the gateway: %v", err)
}

// slowloris holds connections that send one header byte per second;
// a connection the gateway cuts is opened again.
type slowloris struct {
	addr   string
	done   chan struct{}
	wg     sync.WaitGroup
	result slowResult
}

type slowResult struct{ opened, cut int }

func startSlowloris(t *testing.T, base string, n int) *slowloris {
	t.Helper()
	a := &slowloris{addr: strings.TrimPrefix(base, "http://"), done: make(chan struct{})}
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = a.open()
	}
	a.wg.Go(func() { a.drip(conns) })
	t.Cleanup(func() { a.stop() })
	return a
}

func (a *slowloris) open() net.Conn {
	c, err := net.DialTimeout("tcp", a.addr, 10*time.Second)
	if err != nil {
		return nil // counted as cut at the next drip
	}
	a.result.opened++
	if _, err := c.Write([]byte("POST /devnet HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")); err != nil {
		c.Close()
		return nil
	}
	return c
}

// drip sends one byte a second on every connection until stop.
func (a *slowloris) drip(conns []net.Conn) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for {
		select {
		case <-a.done:
			return
		case <-tick.C:
		}
		for i, c := range conns {
			if c != nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte("a")); err == nil {
					continue
				}
				c.Close()
			}
			a.result.cut++
			conns[i] = a.open()
		}
	}
}

func (a *slowloris) stop() slowResult {
	select {
	case <-a.done:
	default:
		close(a.done)
	}
	a.wg.Wait()
	return a.result
}

// callFigures summarises the normal client's calls.
type callFigures struct {
	calls    int
	p50, max time.Duration
}

func (f callFigures) String() string {
	return fmt.Sprintf("%d calls, each on a new connection, all answered (p50 %v, max %v)", f.calls, f.p50, f.max)
}

// normalCalls makes eth_blockNumber calls one after another, at most 50 a
// second, each on a new connection from local, for the given time; every
// one must succeed.
func normalCalls(t *testing.T, url string, local net.IP, within time.Duration) callFigures {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var took []time.Duration
	pace := time.NewTicker(20 * time.Millisecond) // a steady client, not a flood of new ports
	defer pace.Stop()
	for end := time.Now().Add(within); time.Now().Before(end); <-pace.C {
		start := time.Now()
		resp, err := client.Post(url, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`))
		if err != nil {
			t.Fatalf("call %d during the attack: %v", len(took)+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"result":"0x`) {
			t.Fatalf("call %d during the attack: %d %s", len(took)+1, resp.StatusCode, body)
		}
		took = append(took, time.Since(start))
	}
	if len(took) == 0 {
		t.Fatal("no call made")
	}
	slices.Sort(took)
	return callFigures{calls: len(took), p50: took[len(took)/2], max: took[len(took)-1]}
}

func loopback(last byte) net.IP { return net.IPv4(127, 0, 0, last) }

// raiseFileLimit raises this process's soft limit of open files to at least
// need (up to the hard limit); the gateway processes it starts inherit it.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= need {
		return
	}
	if lim.Max < need {
		t.Fatalf("the hard limit of open files is %d, this test needs %d: raise it (ulimit -Hn)", lim.Max, need)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
}
