package hedge

import (
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func TestHedgeable(t *testing.T) {
	tests := []struct {
		method string
		want   bool
	}{
		{"eth_blockNumber", true},
		{"eth_call", true},
		{"eth_getLogs", true},
		{"eth_getTransactionReceipt", true},
		{"eth_sendRawTransaction", false},
		{"eth_sendRawTransactionSync", false},
		{"eth_newFilter", false},
		{"eth_getFilterChanges", false},
		{"eth_uninstallFilter", false},
		{"eth_subscribe", false},
		{"eth_sendTransaction", false}, // unknown: may be a write
		{"personal_sign", false},
	}
	for _, tt := range tests {
		if got := Hedgeable(tt.method); got != tt.want {
			t.Errorf("Hedgeable(%q) = %v, want %v", tt.method, got, tt.want)
		}
	}
}

// TestDelay: max_delay until enough answers, then the quantile within the
// bounds, following the node's recent times.
func TestDelay(t *testing.T) {
	p := New("m", Settings{Quantile: 0.95, MinDelay: 5 * time.Millisecond, MaxDelay: 500 * time.Millisecond}, nil)
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	if d := p.Delay(n, "eth_call"); d != 500*time.Millisecond {
		t.Fatalf("without answers: %s, want max_delay", d)
	}
	for range MinSamples - 1 {
		p.Observe(n, "eth_call", 40*time.Millisecond)
	}
	if d := p.Delay(n, "eth_call"); d != 500*time.Millisecond {
		t.Fatalf("with %d answers: %s, want max_delay", MinSamples-1, d)
	}
	// 90 answers at 40ms and 10 at 200ms: the p95 is in the slow ones.
	for range 90 - (MinSamples - 1) {
		p.Observe(n, "eth_call", 40*time.Millisecond)
	}
	for range 10 {
		p.Observe(n, "eth_call", 200*time.Millisecond)
	}
	if d := p.Delay(n, "eth_call"); d < 200*time.Millisecond || d > 240*time.Millisecond {
		t.Fatalf("p95 of 90×40ms and 10×200ms: %s, want about 200ms", d)
	}
	if d := p.Delay(n, "eth_getLogs"); d != 500*time.Millisecond {
		t.Fatalf("another method: %s, want max_delay (times are per method)", d)
	}
	// Fast answers replace the old ones as the window decays.
	for range 2000 {
		p.Observe(n, "eth_call", time.Millisecond)
	}
	if d := p.Delay(n, "eth_call"); d != 5*time.Millisecond {
		t.Fatalf("after many 1ms answers: %s, want min_delay", d)
	}
	for range 2000 {
		p.Observe(n, "eth_call", time.Minute)
	}
	if d := p.Delay(n, "eth_call"); d != 500*time.Millisecond {
		t.Fatalf("after many slow answers: %s, want max_delay", d)
	}
}

func TestBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, base, time.Millisecond, 37 * time.Millisecond, time.Second, time.Hour} {
		i := bucketOf(d)
		if i < 0 || i >= buckets {
			t.Fatalf("bucketOf(%s) = %d", d, i)
		}
		if d > base && d < upper(buckets-2) && (d >= upper(i) || i > 0 && d < upper(i-1)) {
			t.Errorf("%s is in bucket %d, which spans %s to %s", d, i, upper(i-1), upper(i))
		}
	}
}
