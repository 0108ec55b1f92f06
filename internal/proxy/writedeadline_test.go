package proxy_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// deadlineRecorder is a ResponseWriter whose server lets a handler move
// its write deadline, as net/http's does.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	set []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

// A call whose budget is long (a method_timeouts entry, or request_timeout
// itself) moves the connection's write deadline past its budget, so that
// net/http's write timeout (2 minutes from the request's start) cannot cut
// its answer; a short one leaves it.
func TestLongBudgetMovesWriteDeadline(t *testing.T) {
	f, err := fakenode.Start(fakenode.Options{Name: "fake", ChainID: 1, Head: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	f.SetResult("debug_traceTransaction", `{}`)
	up := healthyNode(f.URL(), "a", time.Millisecond)
	t.Cleanup(up.Close)
	m, err := metrics.New(prometheus.NewRegistry(), func() []metrics.Network { return nil })
	if err != nil {
		t.Fatal(err)
	}
	net := &proxy.Network{Name: "eth", Pool: balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, []*upstream.Node{up}), Health: observer{},
		TryTimeout: 5 * time.Second, MethodTimeouts: methodset.NewLongest(map[string]time.Duration{"debug_*": 90 * time.Second})}
	h := proxy.New(proxy.Options{MaxBodyBytes: 1 << 20, MaxBatchSize: 10, RequestTimeout: 30 * time.Second}, []*proxy.Network{net}, slog.New(slog.DiscardHandler), m)
	serve := func(method string) *deadlineRecorder {
		w := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		r := httptest.NewRequest(http.MethodPost, "/eth", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"`+method+`","params":[]}`))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", method, w.Code, w.Body)
		}
		return w
	}
	start := time.Now()
	w := serve("debug_traceTransaction")
	if len(w.set) != 1 || w.set[0].Before(start.Add(90*time.Second+2*time.Minute)) {
		t.Errorf("a 90s method timeout set the write deadline %v, want once, at least 90s + %s from the request", w.set, 2*time.Minute)
	}
	if w := serve("eth_blockNumber"); len(w.set) != 0 {
		t.Errorf("a call within request_timeout (30s) moved the write deadline: %v", w.set)
	}
	h.SetOptions(proxy.Options{MaxBodyBytes: 1 << 20, MaxBatchSize: 10, RequestTimeout: 5 * time.Minute})
	if w := serve("eth_blockNumber"); len(w.set) != 1 {
		t.Errorf("request_timeout 5m: write deadline set %v, want once", w.set)
	}
}
