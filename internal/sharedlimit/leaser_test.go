package sharedlimit

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/evmgate/evmgate/internal/upstream"
)

func client(t *testing.T, rs *redistest.Server) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	o.MaxRetries = -1
	rdb := redis.NewClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// The script leases what the bucket holds, in part when it holds less
// than asked, says when it will have a token, and keeps a cool-down that
// refuses every lease until it ends.
func TestLeaseScript(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	rdb := client(t, rs)
	ctx := context.Background()
	const url = "https://eth-mainnet.g.alchemy.com/v2/SecretKey123"
	key := Key("evmgate:", url, nil)
	if !strings.HasPrefix(key, "evmgate:nodelimit:") || strings.Contains(key, "SecretKey123") || len(key) != len("evmgate:nodelimit:")+32 {
		t.Fatalf("key = %q: want the prefix and a hash, never the URL's key", key)
	}
	if Key("evmgate:", url, nil) != key || Key("evmgate:", url+"x", nil) == key ||
		Key("evmgate:", url, http.Header{"X-Api-Key": {"a"}}) == key ||
		Key("evmgate:", url, http.Header{"X-Api-Key": {"a"}}) == Key("evmgate:", url, http.Header{"X-Api-Key": {"b"}}) {
		t.Fatal("a node's key must follow its URL and headers, and only them")
	}
	if Key("evmgate:", "HTTPS://ETH-MAINNET.g.alchemy.com:443/v2/SecretKey123/", nil) != key {
		t.Fatal("the same URL written another way (capitals, the default port, a slash) is another plan")
	}
	ask := upstream.LeaseAsk{Tokens: 8, Rate: 10, Burst: 10}
	a, err := take(ctx, rdb, key, ask)
	if err != nil || a.Granted != 8 {
		t.Fatalf("first lease = %+v, %v; want 8", a, err)
	}
	a, _ = take(ctx, rdb, key, ask)
	if a.Granted < 2 || a.Granted > 3 {
		t.Fatalf("second lease of 8 from a bucket of 10 = %d, want the 2 left", a.Granted)
	}
	a, _ = take(ctx, rdb, key, ask)
	if a.Granted != 0 || a.Retry <= 0 || a.Retry > 100*time.Millisecond {
		t.Fatalf("lease from an empty bucket = %+v; want none and a retry within 100ms (10/s)", a)
	}
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > 1100*time.Millisecond {
		t.Fatalf("the bucket's key lives %s; want until it is full again, about 1s", ttl)
	}
	a, _ = take(ctx, rdb, key, upstream.LeaseAsk{Cool: 2 * time.Second, Rate: 10, Burst: 10})
	if a.Cool < 1900*time.Millisecond || a.Cool > 2*time.Second {
		t.Fatalf("told a 2s cool-down, read back %s", a.Cool)
	}
	time.Sleep(300 * time.Millisecond) // the bucket refills meanwhile: only the cool-down refuses
	a, _ = take(ctx, rdb, key, ask)
	if a.Granted != 0 || a.Retry < time.Second || a.Cool < time.Second {
		t.Fatalf("lease while cooling down = %+v; want none until the cool-down ends", a)
	}
	// A shorter cool-down told later does not shorten it.
	a, _ = take(ctx, rdb, key, upstream.LeaseAsk{Cool: 100 * time.Millisecond, Rate: 10, Burst: 10})
	if a.Cool < time.Second {
		t.Fatalf("a shorter cool-down shortened the node's: %s left", a.Cool)
	}
}

// fakePool is one network's nodes, counting its wake-ups.
type fakePool struct {
	nodes []*upstream.Node
	woke  atomic.Int64
}

func (p *fakePool) Nodes() []*upstream.Node { return p.nodes }
func (p *fakePool) Wake()                   { p.woke.Add(1) }

// replica is one gateway's view of the node: its own Node and leaser.
type replica struct {
	node *upstream.Node
	pool *fakePool
	l    *Leaser
	log  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newReplica(t *testing.T, rdb *redis.Client, lim upstream.RateLimit) *replica {
	t.Helper()
	r := &replica{pool: &fakePool{}, log: &syncBuffer{}}
	l, err := New(rdb, "evmgate:", func() []Pool { return []Pool{r.pool} }, slog.New(slog.NewTextHandler(r.log, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.l = l
	r.node = upstream.New(upstream.Spec{Name: "provider", Network: "mainnet", URL: "http://127.0.0.1:1", RateLimit: lim, WantLease: l.Want})
	r.pool.nodes = []*upstream.Node{r.node}
	l.Start()
	t.Cleanup(l.Close)
	return r
}

// send calls the node as fast as its limit lets, for d, and returns the
// calls that went.
func (r *replica) send(d time.Duration) int {
	n := 0
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if r.node.TryAcquireCalls(upstream.Now(), 1) {
			r.node.Release()
			n++
			continue
		}
		time.Sleep(2 * time.Millisecond)
	}
	return n
}

// Two replicas sending as fast as they may share one limit: together they
// send about what one limit allows, and both get calls through.
func TestTwoReplicasShareOneLimit(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	rdb := client(t, rs)
	lim := upstream.RateLimit{Rate: 50, Burst: 20, Shared: true}
	a, b := newReplica(t, rdb, lim), newReplica(t, rdb, lim)
	const window = 2 * time.Second
	var na, nb int
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); na = a.send(window) }()
	go func() { defer wg.Done(); nb = b.send(window) }()
	wg.Wait()
	limit := int(lim.Rate*window.Seconds()) + lim.Burst
	t.Logf("replica a sent %d, b %d; one limit allows %d", na, nb, limit)
	if na+nb > limit+2*lim.Burst/10 {
		t.Fatalf("two replicas sent %d calls in %s; a shared limit of %v/s, burst %d allows about %d", na+nb, window, lim.Rate, lim.Burst, limit)
	}
	if na+nb < limit/2 {
		t.Fatalf("two replicas sent only %d calls in %s; the limit allows %d", na+nb, window, limit)
	}
	if na < limit/10 || nb < limit/10 {
		t.Fatalf("one replica starved: %d and %d", na, nb)
	}
	if a.pool.woke.Load() == 0 {
		t.Fatal("no lease woke the waiting calls")
	}
}

// A 429 met by one replica cools the node on the other within a poll.
func TestCoolDownReachesTheOtherReplica(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	rdb := client(t, rs)
	lim := upstream.RateLimit{Rate: 100, Burst: 100, Shared: true}
	a, b := newReplica(t, rdb, lim), newReplica(t, rdb, lim)
	b.send(50 * time.Millisecond) // b is in use: it polls
	a.node.CoolDown(5 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for b.node.CoolingDown() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the other replica never learnt of the cool-down")
		}
		b.node.Wait(upstream.Now(), 1) // in use
		time.Sleep(10 * time.Millisecond)
	}
	if d := b.node.CoolingDown(); d < 3*time.Second {
		t.Fatalf("the other replica cools down %s, want most of 5s", d)
	}
	if b.node.TryAcquireCalls(upstream.Now(), 1) {
		t.Fatal("the other replica sends while the node cools down")
	}
}

// While Redis is down calls go by the local bucket, one WARN says so, the
// status says fallback; once Redis is back the limit is shared again.
func TestRedisDownFallsBack(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	rdb := client(t, rs)
	a := newReplica(t, rdb, upstream.RateLimit{Rate: 50, Burst: 10, Shared: true})
	if n := a.send(200 * time.Millisecond); n == 0 {
		t.Fatal("no call went with Redis up")
	}
	if _, state := a.node.SharedLimit(); state != "ok" {
		t.Fatalf("state = %q with Redis up", state)
	}
	rs.Stop()
	if n := a.send(1500 * time.Millisecond); n == 0 {
		t.Fatal("no call went with Redis down")
	}
	if _, state := a.node.SharedLimit(); state != "fallback" {
		t.Fatalf("state = %q with Redis down, want fallback", state)
	}
	if c := strings.Count(a.log.String(), "node rate limits not shared"); c != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", c, a.log.String())
	}
	rs.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.send(100 * time.Millisecond)
		if _, state := a.node.SharedLimit(); state == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the limit never became shared again after Redis came back")
		}
	}
	if !strings.Contains(a.log.String(), "node rate limits are shared again") {
		t.Fatalf("no line says the limits are shared again:\n%s", a.log.String())
	}
}

// Tokens a replica owes (a batch larger than its lease) are charged to the
// shared bucket whatever it holds: another replica then waits until they
// are paid.
func TestLeaseScriptChargesDebt(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	rdb := client(t, rs)
	ctx := context.Background()
	key := Key("evmgate:", "http://127.0.0.1:1/debt", nil)
	a, err := take(ctx, rdb, key, upstream.LeaseAsk{Tokens: 10, Rate: 10, Burst: 10})
	if err != nil || a.Granted != 10 {
		t.Fatalf("first lease = %+v, %v; want the burst of 10", a, err)
	}
	// The replica sent a batch of 30 with its 10: it owes 20 (2 s at 10/s).
	if a, err = take(ctx, rdb, key, upstream.LeaseAsk{Owe: 20, Rate: 10, Burst: 10}); err != nil || a.Granted != 0 {
		t.Fatalf("telling a debt = %+v, %v", a, err)
	}
	a, _ = take(ctx, rdb, key, upstream.LeaseAsk{Tokens: 1, Rate: 10, Burst: 10})
	if a.Granted != 0 || a.Retry < 1500*time.Millisecond {
		t.Fatalf("another replica's lease after a debt of 20 = %+v; want none for about 2s", a)
	}
}
