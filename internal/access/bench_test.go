package access

import (
	"context"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkKeyAndLimit is the per-call cost on the request path: find the
// key of a header, check the method and take from the key's and the
// client IP's local buckets.
func BenchmarkKeyAndLimit(b *testing.B) {
	cfg := Config{PerIP: Limit{Rate: 1e12, Burst: 1 << 30}}
	for i := range 1000 {
		cfg.Keys = append(cfg.Keys, KeySpec{Name: "k" + strconv.Itoa(i), Key: "key-number-" + strconv.Itoa(i) + "-0123456789",
			Limit: Limit{Rate: 1e12, Burst: 1 << 30}})
	}
	a := newAccess(b, cfg)
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mainnet", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	r.Header.Set("X-API-Key", "key-number-500-0123456789")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, e := a.Identify(r, "mainnet", "")
		if e != nil {
			b.Fatal(e)
		}
		if e := a.Method(c, "mainnet", "eth_call"); e != nil {
			b.Fatal(e)
		}
		if _, e := a.Take(ctx, c, a.Cost(c, "eth_call")); e != nil {
			b.Fatal(e)
		}
	}
}

// BenchmarkOpen is the same path with no keys and no limits: what an open
// gateway pays.
func BenchmarkOpen(b *testing.B) {
	a := newAccess(b, Config{})
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mainnet", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, _ := a.Identify(r, "mainnet", "")
		_ = a.Method(c, "mainnet", "eth_call")
		_, _ = a.Take(ctx, c, a.Cost(c, "eth_call"))
	}
}
