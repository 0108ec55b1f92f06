package cache

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

func redisStore(t *testing.T, url string, ttl time.Duration, maxBytes int64) (*Store, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(Config{MaxBytes: 1 << 20, MaxItemBytes: 64 << 10, Dedup: true,
		Redis: &RedisConfig{URL: url, Prefix: "t:", TTL: ttl, MaxBytes: maxBytes, Timeout: time.Second}}, reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, reg
}

func flush(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func redisResult(s *Store, r string) float64 {
	return testutil.ToFloat64(s.metrics.redis.WithLabelValues(r))
}

// TestRedisShared: an answer kept by one store is served by another that
// shares its Redis, byte for byte with the other client's id, and lives
// there redis_ttl at most.
func TestRedisShared(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	srv.Start()
	a, _ := redisStore(t, srv.URL(), time.Hour, 1<<20)
	b, _ := redisStore(t, srv.URL(), time.Hour, 1<<20)
	na, nb := a.Network("main", fixed(1000)), b.Network("main", fixed(1000))
	c := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x5",false]}`)
	cc := na.Prepare(c)
	if !na.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":{"number":"0x5"}}`), node1) {
		t.Fatal("not kept")
	}
	flush(t, a)
	c2 := call(t, `{"jsonrpc":"2.0","id":"b","method":"eth_getBlockByNumber","params":["0x5", false]}`)
	cc2 := nb.Prepare(c2)
	got, ok := nb.Get(&cc2, c2.ID, nil)
	if want := `{"jsonrpc":"2.0","id":"b","result":{"number":"0x5"}}`; !ok || string(got) != want {
		t.Fatalf("b got %q (%v), want %q", got, ok, want)
	}
	if redisResult(b, "hit") != 1 || b.Len() != 1 {
		t.Fatalf("b: %v Redis hits, %d entries in memory; want 1 and 1 (kept in memory after the hit)", redisResult(b, "hit"), b.Len())
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "t:e:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("entries in Redis: %v, %v", keys, err)
	}
	if ttl := rdb.PTTL(context.Background(), keys[0]).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("entry TTL %s, want at most redis_ttl (1h)", ttl)
	}
}

// TestRedisCap: writes stop at redis_max_bytes; what Redis holds, counted
// as the cap counts it, stays under it.
func TestRedisCap(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	srv.Start()
	const capBytes = 20 << 10
	s, _ := redisStore(t, srv.URL(), time.Hour, capBytes)
	n := s.Network("main", fixed(1000))
	body := strings.Repeat("a", 1000)
	for i := range 100 {
		c := call(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x%x",false]}`, i))
		cc := n.Prepare(c)
		n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"`+body+`"}`), node1)
	}
	flush(t, s)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "t:e:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var held int
	for _, k := range keys {
		held += len(k) + int(rdb.StrLen(ctx, k).Val()) + redisEntryOverhead
	}
	if held > capBytes || len(keys) == 0 {
		t.Fatalf("Redis holds %d entries, %d bytes; cap %d", len(keys), held, capBytes)
	}
	if full := redisResult(s, "full"); full == 0 || int(full)+len(keys)+int(redisResult(s, "dropped")) != 100 {
		t.Fatalf("%v refused as full, %d written", full, len(keys))
	}
}

// TestRedisDown: with Redis gone, lookups miss and puts return at once;
// the memory level goes on; Redis is asked again after its pause.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.New(t)
	srv.Start()
	s, _ := redisStore(t, srv.URL(), time.Hour, 1<<20)
	n := s.Network("main", fixed(1000))
	srv.Stop()
	c := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]}`)
	cc := n.Prepare(c)
	if _, ok := n.Get(&cc, c.ID, nil); ok {
		t.Fatal("hit with Redis down and nothing kept")
	}
	if redisResult(s, "error") != 1 {
		t.Fatalf("%v Redis errors, want 1", redisResult(s, "error"))
	}
	for range 10 { // Redis rests: no more waits
		if _, ok := n.Get(&cc, c.ID, nil); ok {
			t.Fatal("hit")
		}
	}
	if redisResult(s, "skipped") < 10 || redisResult(s, "error") != 1 {
		t.Fatalf("skipped %v, errors %v", redisResult(s, "skipped"), redisResult(s, "error"))
	}
	if !n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`), node1) {
		t.Fatal("not kept in memory")
	}
	if got, ok := n.Get(&cc, c.ID, nil); !ok || string(got) != `{"jsonrpc":"2.0","id":1,"result":"0x1"}` {
		t.Fatalf("memory level: %q %v", got, ok)
	}
	srv.Start()
	s.l2.pause.Store(0) // the pause is over
	c3 := call(t, `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x11"]}`)
	cc3 := n.Prepare(c3)
	n.Put(&cc3, []byte(`{"jsonrpc":"2.0","id":1,"result":"0x2"}`), node1)
	flush(t, s)
	if redisResult(s, "written") != 1 {
		t.Fatalf("%v written after Redis came back", redisResult(s, "written"))
	}
}

// BenchmarkRedisHit is a lookup that misses memory and hits Redis (a 1 kB
// answer over loopback), then keeps the entry in memory.
func BenchmarkRedisHit(b *testing.B) {
	srv := redistest.New(b)
	srv.Start()
	s, err := New(Config{MaxBytes: 64 << 20, MaxItemBytes: 64 << 10, Dedup: true,
		Redis: &RedisConfig{URL: srv.URL(), Prefix: "b:", TTL: time.Hour, MaxBytes: 64 << 20, Timeout: time.Second}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := s.Network("main", fixed(1000))
	c := call(b, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x10",false]}`)
	cc := n.Prepare(c)
	n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"`+strings.Repeat("a", 1000)+`"}`), node1)
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.c.Invalidate(cc.Key)
		if _, ok := n.Get(&cc, c.ID, nil); !ok {
			b.Fatal("miss")
		}
	}
}
