package upstream

import (
	"fmt"
	"testing"

	"github.com/evmgate/evmgate/internal/methodset"
)

func TestServesListsAndLearned(t *testing.T) {
	n := New(Spec{Name: "n", URL: "http://127.0.0.1:1", Methods: methodset.NewFilter(methodset.Lists{Deny: []string{"trace_*"}})})
	if n.Serves("trace_block") || !n.Serves("debug_traceTransaction") {
		t.Fatal("a node's deny list must refuse what it names and nothing else")
	}
	n.LearnMissing("debug_traceTransaction")
	if n.Serves("debug_traceTransaction") || !n.Serves("eth_call") {
		t.Fatal("a learned method must be refused, and only it")
	}
	if got := fmt.Sprint(n.Missing()); got != "[debug_traceTransaction]" {
		t.Fatalf("Missing() = %s", got)
	}
}

func TestLearnMissingIsBounded(t *testing.T) {
	n := New(Spec{Name: "n", URL: "http://127.0.0.1:1"})
	for i := range maxMissing + 50 {
		n.LearnMissing(fmt.Sprintf("made_up%d", i))
	}
	if got := len(n.Missing()); got != maxMissing {
		t.Fatalf("%d methods remembered, want at most %d", got, maxMissing)
	}
	if !n.Lacks(fmt.Sprintf("made_up%d", maxMissing+49)) || n.Lacks("made_up0") {
		t.Fatal("when full, the method learned longest ago must make room for the newest")
	}
}

func TestMethodMissing(t *testing.T) {
	for _, c := range []struct {
		code int
		msg  string
		want bool
	}{
		{-32601, "the method trace_block does not exist/is not available", true},
		{-32601, "Method not found", true},
		{-32004, "Method not supported", true},
		{-32604, "Method not enabled", true},
		{-32600, "Unsupported method: trace_block on ETH_MAINNET", true},
		{-32000, "the method debug_traceCall does not exist/is not available", true},
		{3, "execution reverted: method not found", false},
		{-32000, "execution reverted: unsupported method", false},
		{-32000, "transaction type not supported", false},
		{-32602, "invalid argument 0: hex string without 0x prefix", false},
	} {
		if got := MethodMissing(c.code, c.msg); got != c.want {
			t.Errorf("MethodMissing(%d, %q) = %v, want %v", c.code, c.msg, got, c.want)
		}
	}
}
