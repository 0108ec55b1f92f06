package proxy

import (
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/methodset"
)

func TestNetworkTimeouts(t *testing.T) {
	n := &Network{TryTimeout: 5 * time.Second, MethodTimeouts: methodset.NewLongest(map[string]time.Duration{
		"debug_*": time.Minute, "eth_call": 2 * time.Second,
	})}
	calls := func(methods ...string) []jsonrpc.Call {
		var out []jsonrpc.Call
		for _, m := range methods {
			out = append(out, jsonrpc.Call{Method: m})
		}
		return out
	}
	for _, c := range []struct {
		methods     []string
		try, method time.Duration
	}{
		{[]string{"eth_blockNumber"}, 5 * time.Second, 0},
		{[]string{"debug_traceTransaction"}, time.Minute, time.Minute},
		{[]string{"eth_call"}, 2 * time.Second, 2 * time.Second}, // shorter than rpc_timeout: fails over sooner
		{[]string{"eth_call", "eth_call"}, 2 * time.Second, 2 * time.Second},
		{[]string{"eth_call", "eth_blockNumber"}, 5 * time.Second, 2 * time.Second}, // the call without an entry keeps rpc_timeout
		{[]string{"eth_call", "debug_traceCall", "eth_blockNumber"}, time.Minute, time.Minute},
	} {
		try, method := n.timeouts(calls(c.methods...))
		if try != c.try || method != c.method {
			t.Errorf("%v: try %s, method %s; want %s, %s", c.methods, try, method, c.try, c.method)
		}
	}
	plain := &Network{TryTimeout: 5 * time.Second}
	if try, method := plain.timeouts(calls("debug_traceTransaction")); try != 5*time.Second || method != 0 {
		t.Errorf("without method_timeouts: %s, %s", try, method)
	}
	if plain.TryTimeoutOf("eth_sendRawTransaction") != 5*time.Second || n.TryTimeoutOf("debug_x") != time.Minute {
		t.Error("TryTimeoutOf")
	}
}
