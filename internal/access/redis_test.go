package access

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func sharedAccess(t testing.TB, rs *redistest.Server, cfg Config) *Access {
	t.Helper()
	opt, err := redis.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	cfg.SharedLimits = true
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{Redis: rdb, Prefix: "test:"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSharedBucketAndQuota(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	cfg := Config{Keys: []KeySpec{{Name: "q", Key: aliceKey, Limit: Limit{Rate: 1, Burst: 3}, DailyQuota: 4}}}
	one, two := sharedAccess(t, rs, cfg), sharedAccess(t, rs, cfg)
	c1, _ := one.Identify(request(), "mainnet", aliceKey)
	c2, _ := two.Identify(request(), "mainnet", aliceKey)
	ctx := context.Background()
	for i, a := range []*Access{one, two, one} {
		c := c1
		if a == two {
			c = c2
		}
		if _, e := a.Take(ctx, c, 1); e != nil {
			t.Fatalf("call %d within the shared burst: %v", i, e)
		}
	}
	retry, e := two.Take(ctx, c2, 1)
	if e == nil || e.Code != jsonrpc.CodeRateLimited || retry <= 0 || retry > time.Second {
		t.Fatalf("the shared burst spent: got %v retry %v", e, retry)
	}
	time.Sleep(1100 * time.Millisecond) // one token back at 1/s: the limit is time itself
	if _, e := one.Take(ctx, c1, 1); e != nil {
		t.Fatal(e)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, e := two.Take(ctx, c2, 1); e == nil || e.Code != jsonrpc.CodeQuotaExceeded {
		t.Fatalf("the fifth unit of a quota of 4: got %v", e)
	}
}

// BenchmarkSharedTake is a shared limit check: one Redis round trip.
func BenchmarkSharedTake(b *testing.B) {
	rs := redistest.New(b)
	rs.Start()
	a := sharedAccess(b, rs, Config{Keys: []KeySpec{{Name: "k", Key: aliceKey, Limit: Limit{Rate: 1e9, Burst: 1 << 30}}}})
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mainnet", nil)
	r.Header.Set("X-API-Key", aliceKey)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, _ := a.Identify(r, "mainnet", "")
		if _, e := a.Take(ctx, c, 1); e != nil {
			b.Fatal(e)
		}
	}
}

// Start tells a key store that does not answer (not fatal: the file's keys
// serve) from one that answers what cannot be used (fatal, with the reason).
func TestStartRedisUnreachableOrMalformed(t *testing.T) {
	rs := redistest.New(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	start := func() (*Access, error) {
		cfg := Config{}
		cfg.Default()
		a, err := New(cfg, Options{Store: NewRedisStore(rdb, "test:")}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return a, a.Start(context.Background())
	}
	// Not started: the port is closed.
	if a, err := start(); err != nil || !a.Open() {
		t.Fatalf("with Redis unreachable: %v (open %v), want a start with the file's keys", err, a.Open())
	}
	rs.Start()
	ctx := context.Background()
	for _, bad := range []string{`not json`, `[{"spec":{"name":"k"},"sha256":"xyz"}]`} {
		if err := rdb.Set(ctx, "test:access:keys", bad, 0).Err(); err != nil {
			t.Fatal(err)
		}
		var u unavailableError
		if _, err := start(); err == nil || errors.As(err, &u) {
			t.Fatalf("stored %s: %v, want the reason it cannot be used", bad, err)
		}
	}
	// WRONGTYPE is Redis's answer, not an outage.
	if err := rdb.Del(ctx, "test:access:keys").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, "test:access:keys", "a", "b").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := start(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("a hash under the key: %v, want WRONGTYPE", err)
	}
}
