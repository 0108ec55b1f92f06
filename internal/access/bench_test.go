package access

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/golang-jwt/jwt/v5"
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

// BenchmarkJWTVerify is the per-call cost of a bearer token: identify the
// caller from a signed token with claims, per algorithm and key source.
func BenchmarkJWTVerify(b *testing.B) {
	f := newJWTFixture(b)
	claims := jwt.MapClaims{"networks": []string{"mainnet"}, "class": "high",
		"limit": map[string]any{"rate": 100, "burst": 200}, "methods": map[string]any{"deny": []string{"debug_*"}}}
	for _, c := range []struct {
		name string
		tok  string
	}{
		{"HS256", f.sign(b, jwt.SigningMethodHS256, f.hmac, claims, "")},
		{"RS256", f.sign(b, jwt.SigningMethodRS256, f.rsa, claims, "")},
		{"ES256", f.sign(b, jwt.SigningMethodES256, f.ec, claims, "")},
		{"ES256-kid", f.sign(b, jwt.SigningMethodES256, f.jwks, claims, "k1")},
	} {
		b.Run(c.name, func(b *testing.B) {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mainnet", nil)
			r.Header.Set("Authorization", "Bearer "+c.tok)
			b.ReportAllocs()
			for b.Loop() {
				if _, e := f.a.Identify(r, "mainnet", ""); e != nil {
					b.Fatal(e)
				}
			}
		})
	}
}
