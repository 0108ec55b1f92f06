//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/gateway"
)

// oldStateCounter forwards JSON-RPC to a node on 127.0.0.1 and counts the
// eth_getBalance calls at block 0x1 it passes on.
func oldStateCounter(t *testing.T, target string, n *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"eth_getBalance"`)) && bytes.Contains(body, []byte(`"0x1"]`)) {
			n.Add(1)
		}
		resp, err := http.Post(target, "application/json", bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientCall posts body with X-Client-ID id ("" for none) and returns the
// result.
func clientCall(t *testing.T, url, id, body string) json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set("X-Client-ID", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Error != nil {
		t.Fatalf("%s: %v %s", body, err, r.Error)
	}
	return r.Result
}

// The archive, state_window and consistent_reads keys, as the README
// documents them, in the binary in front of real go-ethereum nodes: an
// old-state call never reaches the node configured as full, /status shows
// each node's history, and a client with X-Client-ID never sees the head
// go back while an anonymous client does. A bad consistent_reads key is
// refused with its path.
func TestRoutingKeysAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	nodes := net.Nodes()
	for range 6 { // block 1 then lies outside the full node's window of 2
		if _, err := net.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	nodes[1].Freeze()
	for range 3 {
		if _, err := net.Mine(ctx); err != nil {
			t.Fatal(err)
		}
	}
	head := net.Head()
	var fullOld atomic.Int64
	fullURL := oldStateCounter(t, nodes[1].HTTPURL(), &fullOld)

	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	yaml := "listen_addr: 127.0.0.1\nport: " + itoa(rpcPort) + "\nmetrics_addr: 127.0.0.1\nmetrics_port: " + itoa(metricsPort) +
		"\nstrategy: round_robin\nnetworks:\n  - name: devnet\n    chain_id: 1337\n    cache: false\n    local_poll_interval: 100ms\n" +
		"    consistent_reads:\n      enabled: true\n      max_clients: 1000\n      ttl: 5m\n      write_pin: 30s\n" +
		"    local_nodes:\n" +
		"      - rpc_endpoint: " + nodes[0].HTTPURL() + "\n        name: archive\n        archive: true\n" +
		"      - rpc_endpoint: " + fullURL + "\n        name: full\n        archive: false\n        state_window: 2\n"
	writeFile(t, cfg, yaml)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/devnet"

	var st gateway.Status
	eventually(t, time.Minute, "both nodes eligible at their heads", func() bool {
		_, body := get(t, "http://"+addr(metricsPort)+"/status")
		st = gateway.Status{}
		if json.Unmarshal([]byte(body), &st) != nil || len(st.Networks) != 1 || st.Networks[0].Head != head {
			return false
		}
		for _, n := range st.Networks[0].Nodes {
			if !n.Eligible {
				return false
			}
		}
		return true
	})
	for _, n := range st.Networks[0].Nodes {
		want := map[string]string{"archive": "archive/0/configured", "full": "full/2/configured"}[n.Name]
		if got := n.History + "/" + itoa(int(n.StateWindow)) + "/" + n.HistorySource; got != want {
			t.Fatalf("/status history of %s: %s, want %s", n.Name, got, want)
		}
	}

	_, faucet := net.Faucet()
	old := `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["` + faucet.Hex() + `","0x1"]}`
	for range 10 {
		clientCall(t, url, "", old)
	}
	if n := fullOld.Load(); n != 0 {
		t.Fatalf("the full node got %d calls for state older than its window", n)
	}

	blockNumber := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	seen := map[string]bool{}
	for range 6 {
		seen[string(clientCall(t, url, "", blockNumber))] = true
	}
	if len(seen) < 2 {
		t.Fatalf("an anonymous client saw heads %v; the test needs both nodes serving", seen)
	}
	want, _ := json.Marshal("0x" + strings.TrimLeft(itoaHex(head), "0"))
	for i := range 20 {
		got := clientCall(t, url, "dapp-1", blockNumber)
		if i > 0 && string(got) != string(want) {
			t.Fatalf("call %d: the client saw %s after the head %s", i, got, want)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, strings.Replace(yaml, "ttl: 5m", "ttl: 10ms", 1))
	code, _, out := runProc(t, "validate", "-config", bad)
	if code == 0 || !strings.Contains(out, "networks[0].consistent_reads.ttl") || !strings.Contains(out, "use 1s or more") {
		t.Fatalf("validate of a 10ms ttl: exit %d, %s", code, out)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

func itoaHex(n uint64) string {
	const digits = "0123456789abcdef"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 16 {
		b = append([]byte{digits[n%16]}, b...)
	}
	return string(b)
}
