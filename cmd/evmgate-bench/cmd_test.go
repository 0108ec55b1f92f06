package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startCommand runs a serving subcommand until the test ends and returns
// its stdout as a line reader.
func startCommand(t *testing.T, args ...string) *bufio.Scanner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runCommand(ctx, args, pw, io.Discard)
		pw.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		go io.Copy(io.Discard, pr) // let a late write finish
		if err := <-done; err != nil {
			t.Errorf("%v: %v", args, err)
		}
	})
	return bufio.NewScanner(pr)
}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func TestFakesServeUntilStopped(t *testing.T) {
	sc := startCommand(t, "fakes", "-n", "2", "-head", "255")
	for range 2 {
		if !sc.Scan() {
			t.Fatal("fakes printed fewer than 2 URLs")
		}
		got := post(t, sc.Text(), `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
		if !strings.Contains(got, `"result":"0xff"`) {
			t.Fatalf("fake node answered %s", got)
		}
	}
}

func TestPortsAreDistinct(t *testing.T) {
	var out bytes.Buffer
	if err := runCommand(context.Background(), []string{"ports", "-n", "3"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out.String())
	if len(f) != 3 || f[0] == f[1] || f[1] == f[2] || f[0] == f[2] {
		t.Fatalf("ports: %q", out.String())
	}
}

func TestServeRunsTheGatewayWithProfiling(t *testing.T) {
	sc := startCommand(t, "fakes", "-n", "1")
	if !sc.Scan() {
		t.Fatal("no fake node")
	}
	node := sc.Text()
	var ports bytes.Buffer
	if err := runCommand(context.Background(), []string{"ports", "-n", "2"}, &ports, io.Discard); err != nil {
		t.Fatal(err)
	}
	p := strings.Fields(ports.String())
	cfg := "listen_addr: 127.0.0.1\nport: " + p[0] + "\nmetrics_port: -1\nlog_requests: false\n" +
		"networks:\n  - name: bench\n    local_nodes:\n      - rpc_endpoint: " + node + "\n"
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startCommand(t, "serve", "-config", path, "-pprof", "127.0.0.1:"+p[1])
	mallocs := "http://127.0.0.1:" + p[1] + "/debug/mallocs"
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(mallocs)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("profiling endpoint never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := post(t, "http://127.0.0.1:"+p[0]+"/bench", `{"jsonrpc":"2.0","id":3,"method":"eth_chainId","params":[]}`)
	if !strings.Contains(got, `"result":"0x1"`) {
		t.Fatalf("gateway answered %s", got)
	}
	if err := runCommand(context.Background(), []string{"serve", "-pprof", "0.0.0.0:1", "-config", path}, io.Discard, io.Discard); err == nil {
		t.Fatal("serve accepted a profiling address that is not loopback")
	}
}

func TestFakesNameFinalizedAndCountCalls(t *testing.T) {
	sc := startCommand(t, "fakes", "-n", "1", "-head", "1000", "-finalized", "900", "-big", "2000")
	if !sc.Scan() {
		t.Fatal("no fake node")
	}
	node := sc.Text()
	if got := post(t, node, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["finalized",false]}`); !strings.Contains(got, `"number":"0x384"`) {
		t.Fatalf("finalized block: %s", got)
	}
	if got := post(t, node, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",false]}`); !strings.Contains(got, `"number":"0x1"`) || len(got) > 1000 {
		t.Fatalf("header of block 1: %s", got)
	}
	if got := post(t, node, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x1",true]}`); len(got) < 1000 {
		t.Fatalf("full block 1 is %d bytes, want the -big size", len(got))
	}
	if got := post(t, node, `{"jsonrpc":"2.0","id":1,"method":"fakenode_calls","params":["eth_getBlockByNumber"]}`); !strings.Contains(got, `"result":"0x3"`) {
		t.Fatalf("calls of eth_getBlockByNumber: %s", got)
	}
	for _, args := range [][]string{
		{"fakes", "-head", "10", "-finalized", "11"},
		{"fakes", "-slow-every", "-1"},
		{"fakes", "-slow", "1m"},
	} {
		if err := runCommand(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestCacheFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"cache", "-dedup-c", "0"},
		{"cache", "-dedup-c", "x"},
		{"cache", "-rounds", "9"},
		{"cache", "-d", "1m"},
	} {
		if err := runCommand(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestFloorForwardsAnswersUnchanged(t *testing.T) {
	sc := startCommand(t, "fakes", "-n", "2", "-big", "100000")
	var nodes []string
	for range 2 {
		if !sc.Scan() {
			t.Fatal("fakes printed fewer than 2 URLs")
		}
		nodes = append(nodes, sc.Text())
	}
	fl := startCommand(t, "floor", "-nodes", strings.Join(nodes, ","))
	if !fl.Scan() {
		t.Fatal("floor printed no URL")
	}
	proxy := fl.Text()
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}`,
		`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`,
		`{"jsonrpc":"2.0","id":3,"method":"eth_getBlockByNumber","params":["0x1",true]}`,
	} {
		want := post(t, nodes[0], body)
		for range 3 { // both nodes, and a kept-alive connection reused
			if got := post(t, proxy, body); got != want {
				t.Fatalf("floor answered %d bytes %.80q, the node %d bytes %.80q", len(got), got, len(want), want)
			}
		}
	}
}

func TestFloorRefusesBadNodes(t *testing.T) {
	for _, nodes := range []string{"", "127.0.0.1:1", "https://127.0.0.1:1", "http://127.0.0.1:1/v1/key"} {
		err := runCommand(context.Background(), []string{"floor", "-nodes", nodes}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-nodes") {
			t.Errorf("-nodes %q: %v", nodes, err)
		}
	}
}
