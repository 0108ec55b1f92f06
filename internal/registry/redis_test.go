package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/redistest"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	redis.SetLogger(RedisLog{Log: quietLog()})
	os.Exit(m.Run())
}

// redisConfig is a registry configuration over s with a 1 s resync.
func redisConfig(s *redistest.Server, stateFile string) Config {
	return Config{RedisURL: s.URL(), RedisPrefix: "test:", ResyncInterval: "1s", StateFile: stateFile}
}

// storeUp waits, polling the admin API, until the registry's store is up
// (or down).
func storeUp(t *testing.T, r *Registry, want bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		if decode[networksReply](t, mustCall(t, r.Handler(), "GET", "/admin/networks", nil, 200)).StoreUp == want {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("store up is not %v after 5s", want)
		}
	}
}

// addUntilUp adds uri to r's default network, retrying while the answer is
// 503: for up to a second after Redis returns, go-redis may still fail new
// connections fast with the last dial error.
func addUntilUp(t *testing.T, r *Registry, uri string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		code, out := call(t, r.Handler(), "POST", "/nodes", "", map[string]string{"uri": uri})
		switch {
		case code == 200:
			return
		case code != 503 || !strings.Contains(errorOf(t, out), "node registry store unavailable"):
			t.Fatalf("add: %d %s", code, out)
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("add still failing 5s after Redis returned: %s", out)
		}
	}
}

// leakCheck fails the test if goroutines it started outlive it. go-redis's
// dial probe is ignored: it sleeps a second between dials and ends at its
// next wake-up once the client is closed.
func leakCheck(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial")}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

const (
	c1 = "http://10.0.0.1:8545"
	c2 = "http://10.0.0.2:8545"
	x  = "http://10.0.0.5:8545"
	y  = "http://10.0.0.6:8545"
)

func TestRedisReplicasShareChanges(t *testing.T) {
	leakCheck(t)
	rs := redistest.New(t)
	rs.Start()
	fa, fb := newFake("mainnet", "sepolia"), newFake("mainnet", "sepolia")
	a := newTestRegistry(t, redisConfig(rs, ""), fa)
	b := newTestRegistry(t, redisConfig(rs, ""), fb)
	fb.waitSet(t, "mainnet", c1, c2)

	start := time.Now()
	mustCall(t, a.Handler(), "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": x, "tier": "fallback"}, 201)
	fb.waitSet(t, "mainnet", c1, c2, x)
	t.Logf("add through A applied by B after %v", time.Since(start))
	if got := fb.set("mainnet")[2]; got.Tier != TierFallback || got.Source != SourceAdmin {
		t.Fatalf("B got %+v", got)
	}

	start = time.Now()
	mustCall(t, b.Handler(), "DELETE", "/nodes", map[string]string{"uri": c1}, 200)
	fa.waitSet(t, "mainnet", c2, x)
	t.Logf("remove through B applied by A after %v", time.Since(start))

	// The same node added through both at once: one success, one conflict
	// (prio-load-balancer's /nodes would answer 200 to both).
	codes := make([]int, 2)
	var wg sync.WaitGroup
	for i, r := range []*Registry{a, b} {
		wg.Go(func() {
			codes[i], _ = call(t, r.Handler(), "POST", "/admin/networks/mainnet/nodes", "", map[string]string{"uri": y})
		})
	}
	wg.Wait()
	slices.Sort(codes)
	if !slices.Equal(codes, []int{201, 409}) {
		t.Fatalf("concurrent adds answered %v, want one 201 and one 409", codes)
	}
	fa.waitSet(t, "mainnet", c2, x, y)
	fb.waitSet(t, "mainnet", c2, x, y)
	if got := decode[[]string](t, mustCall(t, b.Handler(), "GET", "/nodes", nil, 200)); !slices.Equal(got, []string{c2, x, y}) {
		t.Fatalf("GET /nodes on B: %v", got)
	}
	if got := fa.uris("sepolia"); !slices.Equal(got, []string{"http://10.0.1.1:8545"}) {
		t.Fatalf("sepolia changed: %v", got)
	}
}

func TestRedisOutageAndRestart(t *testing.T) {
	leakCheck(t)
	rs := redistest.New(t)
	rs.Start()
	cache := filepath.Join(t.TempDir(), "cache.json")
	fa, fb := newFake("mainnet", "sepolia"), newFake("mainnet", "sepolia")
	a := newTestRegistry(t, redisConfig(rs, cache), fa)
	b := newTestRegistry(t, redisConfig(rs, ""), fb)
	mustCall(t, a.Handler(), "POST", "/nodes", map[string]string{"uri": x}, 200)
	fb.waitSet(t, "mainnet", c1, c2, x)

	rs.Stop()
	appliesA, _ := fa.counts()
	appliesB, _ := fb.counts()
	code, out := call(t, a.Handler(), "POST", "/nodes", "", map[string]string{"uri": y})
	if code != 503 || !strings.Contains(errorOf(t, out), "node registry store unavailable (redis "+rs.Addr()+")") {
		t.Fatalf("add with Redis down: %d %s", code, out)
	}
	code, out = call(t, b.Handler(), "DELETE", "/nodes", "", map[string]string{"uri": x})
	if code != 503 {
		t.Fatalf("remove with Redis down: %d %s", code, out)
	}
	storeUp(t, a, false)
	storeUp(t, b, false)
	for _, r := range []*Registry{a, b} {
		if got := decode[[]string](t, mustCall(t, r.Handler(), "GET", "/nodes", nil, 200)); !slices.Equal(got, []string{c1, c2, x}) {
			t.Fatalf("GET /nodes with Redis down: %v", got)
		}
	}
	if n, _ := fa.counts(); n != appliesA {
		t.Fatalf("A applied %d node sets while Redis was down", n-appliesA)
	}
	if n, _ := fb.counts(); n != appliesB {
		t.Fatalf("B applied %d node sets while Redis was down", n-appliesB)
	}

	// A replica starting now serves the state file's copy of Redis.
	fc := newFake("mainnet", "sepolia")
	start := time.Now()
	newTestRegistry(t, redisConfig(rs, cache), fc)
	t.Logf("Start with Redis down took %v", time.Since(start))
	fc.waitSet(t, "mainnet", c1, c2, x)

	// Redis comes back empty: the replicas write back what they knew,
	// and changes flow again.
	rs.Start()
	storeUp(t, a, true)
	start = time.Now()
	addUntilUp(t, a, y)
	fb.waitSet(t, "mainnet", c1, c2, x, y)
	fc.waitSet(t, "mainnet", c1, c2, x, y)
	t.Logf("after the restart, add through A applied by B and C after %v", time.Since(start))
	fd := newFake("mainnet", "sepolia")
	newTestRegistry(t, redisConfig(rs, ""), fd)
	fd.waitSet(t, "mainnet", c1, c2, x, y)
	for _, f := range []*fakeApplier{fa, fb, fc} {
		sets := f.applied("mainnet")
		i := slices.IndexFunc(sets, func(s []string) bool { return slices.Contains(s, x) })
		for _, s := range sets[i:] {
			if !slices.Contains(s, x) {
				t.Fatalf("a replica dropped %s on the way: applied %v", x, sets)
			}
		}
	}
}

func TestRedisDownAtStartAndStoredNodeDown(t *testing.T) {
	leakCheck(t)
	rs := redistest.New(t)
	fa := newFake("mainnet", "sepolia")
	start := time.Now()
	a := newTestRegistry(t, redisConfig(rs, ""), fa)
	t.Logf("Start with Redis never up took %v", time.Since(start))
	fa.waitSet(t, "mainnet", c1, c2)
	code, _ := call(t, a.Handler(), "POST", "/nodes", "", map[string]string{"uri": x})
	if code != 503 {
		t.Fatalf("add before Redis is up: %d", code)
	}

	rs.Start()
	fb := newFake("mainnet", "sepolia")
	b := newTestRegistry(t, redisConfig(rs, ""), fb)
	start = time.Now()
	addUntilUp(t, b, x)
	fa.waitSet(t, "mainnet", c1, c2, x)
	t.Logf("replica started without Redis caught up %v after the add", time.Since(start))

	// x is now down: admission would fail, but a replica starting must
	// neither fail nor drop it (health checks handle down nodes).
	fc := newFake("mainnet", "sepolia")
	fc.setAdmit(func(n Node) error { return fmt.Errorf("dial %s: connection refused", n.URI) })
	newTestRegistry(t, redisConfig(rs, ""), fc)
	fc.waitSet(t, "mainnet", c1, c2, x)
	if _, admits := fc.counts(); admits != 0 {
		t.Fatalf("Start admitted %d stored nodes", admits)
	}
}

// TestRedisKeys pins the documented key layout.
func TestRedisKeys(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, redisConfig(rs, ""), f)
	mustCall(t, r.Handler(), "POST", "/nodes", map[string]string{"uri": x, "name": "five"}, 200)
	mustCall(t, r.Handler(), "DELETE", "/nodes", map[string]string{"uri": c1}, 200)
	ctx := context.Background()
	rdb := r.rs.rdb
	if v, err := rdb.HGet(ctx, "test:registry:net:mainnet:added", x).Result(); err != nil || v != `{"tier":"local","name":"five","seq":1}` {
		t.Fatalf("added entry %q, %v", v, err)
	}
	if v, err := rdb.HGet(ctx, "test:registry:net:mainnet:removed", c1).Result(); err != nil || v != "2" {
		t.Fatalf("removed entry %q, %v", v, err)
	}
	if n, err := rdb.Exists(ctx, "test:registry:epoch").Result(); err != nil || n != 1 {
		t.Fatalf("epoch: %d, %v", n, err)
	}
}
