package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/redistest"
)

// sharedGateway starts an evmgate process whose one network "mainnet" has
// one node, "provider", at f with rateLimit, over Redis at redisURL. It
// returns the process and its JSON-RPC and metrics base URLs.
func sharedGateway(t *testing.T, f *fakenode.Node, redisURL, rateLimit string) (*proc, string, string) {
	t.Helper()
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"redis_url: "+redisURL+"\nrequest_timeout: 5s\nnetworks:\n"+
		"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n"+
		"    local_nodes:\n      - rpc_endpoint: "+f.URL()+"\n        name: provider\n        rate_limit: "+rateLimit+"\n")
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	return p, "http://" + addr(rpcPort), "http://" + addr(metricsPort)
}

// load sends web3_clientVersion to each of urls from workers goroutines
// each, one call after the other, for window, and returns how many calls
// the node f got meanwhile (counted at the window's end) and how many
// were answered 200.
func load(t *testing.T, f *fakenode.Node, urls []string, workers int, window time.Duration) (reached int64, ok int64) {
	t.Helper()
	before := f.Calls("web3_clientVersion")
	var answered atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, u := range urls {
		for range workers {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if code, _ := rpc(t, u+"/mainnet", clientVersion); code == 200 {
						answered.Add(1)
					} else {
						time.Sleep(20 * time.Millisecond) // a 429: the gateway said wait
					}
				}
			})
		}
	}
	timer := time.NewTimer(window)
	<-timer.C
	reached = f.Calls("web3_clientVersion") - before
	close(stop)
	wg.Wait()
	return reached, answered.Load()
}

// Two evmgate processes in front of one provider, sharing one Redis: with
// rate_limit.shared the provider gets about one limit's worth of calls
// from both together; without it, about twice as many.
func TestSharedNodeRateLimitTwoGatewaysAsProcess(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	const rate, burst, window = 20, 10, 3 * time.Second
	run := func(shared bool) int64 {
		f := fakeNodes(t, 1, 1)[0]
		rl := fmt.Sprintf("{rate: %d, burst: %d, shared: %v}", rate, burst, shared)
		pa, a, _ := sharedGateway(t, f, rs.URL(), rl)
		pb, b, _ := sharedGateway(t, f, rs.URL(), rl)
		reached, ok := load(t, f, []string{a, b}, 6, window)
		t.Logf("shared %v: the provider got %d calls in %s (%d answered 200)", shared, reached, window, ok)
		pa.terminate(30 * time.Second)
		pb.terminate(30 * time.Second)
		return reached
	}
	// One limit: rate × window + burst, and a lease chunk (burst/10) a
	// replica may hold beyond it, with room for the calls sent in the
	// instant the count is read.
	sharedMax := int64(rate*window.Seconds()) + burst + 2*max(1, burst/10) + 4
	if got := run(true); got > sharedMax {
		t.Errorf("shared: the provider got %d calls in %s; one limit of %d/s, burst %d allows about %d", got, window, rate, burst, sharedMax)
	} else if got < int64(rate*window.Seconds())/2 {
		t.Errorf("shared: the provider got only %d calls in %s, under half the limit", got, window)
	}
	// Two limits, one each: well over one.
	if got := run(false); got < int64(1.5*rate*window.Seconds()) {
		t.Errorf("not shared: the provider got %d calls in %s; two replicas with %d/s each should send about twice the limit", got, window, rate)
	}
}

// A node's HTTP 429 met through one gateway cools the node on the other:
// it sends the node nothing while it cools down, and says so in /status;
// each counts the cool-down by where it came from.
func TestSharedCoolDownTwoGatewaysAsProcess(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	f := fakeNodes(t, 1, 1)[0]
	const rl = "{rate: 50, burst: 50, shared: true}"
	_, a, am := sharedGateway(t, f, rs.URL(), rl)
	_, b, bm := sharedGateway(t, f, rs.URL(), rl)
	f.SetTooMany("web3_clientVersion", "60")
	if code, body := rpc(t, a+"/mainnet", clientVersion); code != 429 {
		t.Fatalf("the call that met the 429: %d %s", code, body)
	}
	if got := f.Calls("web3_clientVersion"); got != 1 {
		t.Fatalf("the provider got %d calls, want the one answered 429", got)
	}
	for i := range 5 {
		code, body := rpc(t, b+"/mainnet", clientVersion)
		if code != 429 || !strings.Contains(body, "-32051") {
			t.Fatalf("call %d through the other gateway: %d %s; want 429 at once, the node cooling down", i, code, body)
		}
	}
	if got := f.Calls("web3_clientVersion"); got != 1 {
		t.Errorf("the provider got %d calls; the other gateway sent while it cooled down", got)
	}
	nd := nodeIn(t, statusOf(t, bm)["mainnet"], "provider")
	if nd.CoolingDownMS < 30_000 || nd.CoolingDownMS > 60_000 {
		t.Errorf("the other gateway's /status cooling_down_ms = %d, want up to 60 s", nd.CoolingDownMS)
	}
	for _, c := range []struct{ base, want string }{
		{am, `evmgate_node_cooldowns_total{network="mainnet",rpc_endpoint="provider",source="answer"} 1`},
		{bm, `evmgate_node_cooldowns_total{network="mainnet",rpc_endpoint="provider",source="replica"} 1`},
	} {
		if _, m := get(t, c.base+"/metrics"); !strings.Contains(m, c.want) {
			t.Errorf("%s/metrics lacks %s", c.base, c.want)
		}
	}
}

// Redis stopped while a gateway serves: calls are still answered, counted
// on the node's own bucket, a WARN says so once, /status and /metrics show
// the fallback; with Redis back the limit is shared again. A reload turns
// shared on for a node that had it off.
func TestSharedRateLimitRedisDownAsProcess(t *testing.T) {
	rs := redistest.New(t)
	rs.Start()
	f := fakeNodes(t, 1, 1)[0]
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	conf := func(shared bool) string {
		return listeners(rpcPort, metricsPort) + "redis_url: " + rs.URL() + "\nnetworks:\n" +
			"  - name: mainnet\n    chain_id: 1\n    local_poll_interval: 100ms\n    cache: false\n" +
			"    local_nodes:\n      - rpc_endpoint: " + f.URL() + "\n        name: provider\n" +
			fmt.Sprintf("        rate_limit: {rate: 100, burst: 20, shared: %v}\n", shared)
	}
	writeFile(t, cfg, conf(false))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url, base := "http://"+addr(rpcPort)+"/mainnet", "http://"+addr(metricsPort)
	if rl := nodeIn(t, statusOf(t, base)["mainnet"], "provider").RateLimit; rl == nil || rl.Shared {
		t.Fatalf("/status rate_limit = %+v, want not shared", rl)
	}
	writeFile(t, cfg, conf(true))
	p.signal(syscall.SIGHUP)
	p.waitOutput(p.stderr, "configuration reloaded", time.Minute)
	// Before any call the replica has not asked Redis: not alone either.
	if _, m := get(t, base+"/metrics"); !strings.Contains(m, `evmgate_node_rate_limit_shared{network="mainnet",rpc_endpoint="provider"} 1`) {
		t.Errorf("/metrics before any call (state starting):\n%s", linesWith(m, "rate_limit_shared"))
	}

	answered := func(n int) {
		t.Helper()
		for i := range n {
			if code, body := rpc(t, url, clientVersion); code != 200 || !strings.Contains(body, `"result"`) {
				t.Fatalf("call %d: %d %s", i, code, body)
			}
		}
	}
	answered(5)
	rl := nodeIn(t, statusOf(t, base)["mainnet"], "provider").RateLimit
	if rl == nil || !rl.Shared || rl.SharedState != "ok" {
		t.Fatalf("/status rate_limit after the reload = %+v, want shared, ok", rl)
	}
	if _, m := get(t, base+"/metrics"); !strings.Contains(m, `evmgate_node_rate_limit_shared{network="mainnet",rpc_endpoint="provider"} 1`) {
		t.Errorf("/metrics:\n%s", linesWith(m, "rate_limit_shared"))
	}

	rs.Stop()
	done := make(chan struct{})
	go func() { defer close(done); answered(30) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("calls hang with Redis down")
	}
	line := p.waitOutput(p.stderr, "node rate limits not shared", time.Minute)
	if l := grepLines(line, "node rate limits not shared"); !strings.Contains(l, "level=WARN") {
		t.Errorf("the outage's line: %q", l)
	}
	if rl := nodeIn(t, statusOf(t, base)["mainnet"], "provider").RateLimit; rl == nil || rl.SharedState != "fallback" {
		t.Errorf("/status rate_limit with Redis down = %+v, want fallback", rl)
	}
	if _, m := get(t, base+"/metrics"); !strings.Contains(m, `evmgate_node_rate_limit_shared{network="mainnet",rpc_endpoint="provider"} 0`) ||
		strings.Contains(m, "evmgate_node_limit_redis_errors_total 0") {
		t.Errorf("/metrics with Redis down:\n%s", linesWith(m, "rate_limit_shared")+linesWith(m, "limit_redis_errors"))
	}
	answered(20)
	if c := strings.Count(p.stderr.String(), "node rate limits not shared"); c != 1 {
		t.Errorf("the outage was logged %d times, want once", c)
	}

	rs.Start()
	eventually(t, 30*time.Second, "the limit shared again", func() bool {
		answered(2)
		rl := nodeIn(t, statusOf(t, base)["mainnet"], "provider").RateLimit
		return rl != nil && rl.SharedState == "ok"
	})
	p.waitOutput(p.stderr, "node rate limits are shared again", time.Minute)
}

// rate_limit.shared without Redis is refused by validate and at start,
// naming the key and the fix.
func TestSharedRateLimitNeedsRedisAsProcess(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://127.0.0.1:1, rate_limit: {rate: 5, shared: true}}]\n")
	const key = "networks[0].local_nodes[0].rate_limit.shared"
	for _, args := range [][]string{{"validate", "-config", cfg}, {"-config", cfg}} {
		code, _, stderr := runProc(t, args...)
		if code != 1 || !strings.Contains(stderr, key) || !strings.Contains(stderr, "set redis_url") {
			t.Errorf("evmgate %v: exit %d, stderr %s", args, code, stderr)
		}
	}
}
