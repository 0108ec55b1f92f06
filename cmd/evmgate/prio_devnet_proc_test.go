//go:build !nodemo

package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// `evmgate prio` in front of real go-ethereum nodes: calls, and a batch,
// through POST /sim and POST / answer byte for byte what a node answers
// directly, with the X-PrioLB-* headers.
func TestPrioAsProcessDevnet(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	nodes := net.Nodes()
	port := freePort(t)
	p := startProc(t, nil, "prio", "-http", addr(port), "-nodes", nodes[0].HTTPURL()+","+nodes[1].HTTPURL()+"?_workers=2")
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(port)
	_, faucet := net.Faucet()
	for _, c := range []struct{ path, body string }{
		{"/sim", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`},
		{"/sim", `{"jsonrpc":"2.0","id":2,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000000001","data":"0x"},"latest"]}`},
		{"/", `{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["` + faucet.Hex() + `","latest"]}`},
		{"/", `[{"jsonrpc":"2.0","id":4,"method":"eth_blockNumber","params":[]},{"jsonrpc":"2.0","id":5,"method":"net_version","params":[]}]`},
		{"/sim", `{"jsonrpc":"2.0","id":6,"method":"eth_call","params":[{"to":"0x0000000000000000000000000000000000000001"},"0x99"]}`},
	} {
		direct := prioCall(t, http.MethodPost, nodes[0].HTTPURL(), c.body)
		via := prioCall(t, http.MethodPost, base+c.path, c.body, "X-High-Priority", "true")
		if via.status != 200 || via.body != direct.body {
			t.Fatalf("%s %s:\n through evmgate %d %s\n directly %d %s", c.path, c.body, via.status, via.body, direct.status, direct.body)
		}
		checkPrioHeaders(t, c.body, via.header)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
