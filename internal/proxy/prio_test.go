package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
)

var prioHeaders = []string{
	"X-PrioLB-QueueDurationUs", "X-PrioLB-SimDurationUs", "X-PrioLB-TotalDurationUs",
	"X-PrioLB-QueueSizeStart", "X-PrioLB-QueueSizeEnd",
}

// sizedSched is a scheduler without queueing that reports fixed queue
// lengths, or refuses every call with err.
type sizedSched struct {
	pool        *balancer.Pool
	start, end  int
	err         error
	gotClass    proxy.Class
	acquireRuns int
}

func (s *sizedSched) Acquire(ctx context.Context, class proxy.Class, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error) {
	n, _, err := s.AcquireQueued(ctx, class, retry, tried, need)
	return n, err
}

func (s *sizedSched) AcquireQueued(_ context.Context, class proxy.Class, _ bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, int, error) {
	s.gotClass = class
	s.acquireRuns++
	if s.err != nil {
		return nil, 0, s.err
	}
	if n := s.pool.Pick(tried, need); n != nil {
		return n, s.start, nil
	}
	return nil, 0, proxy.ErrNoNode
}

func (s *sizedSched) Release(n *upstream.Node) { n.Release() }

func (s *sizedSched) Queued(proxy.Class) int { return s.end }

var _ proxy.QueueSizer = (*sizedSched)(nil)

// newPrioHandler serves network "default" at /default and at / and /sim,
// over healthy nodes at urls, with sched (nil: no queue sizes).
func newPrioHandler(t testing.TB, urls []string, sched func(*balancer.Pool) proxy.Scheduler) *proxy.Handler {
	t.Helper()
	var ups []*upstream.Node
	for i, u := range urls {
		n := healthyNode(u, string(rune('a'+i)), time.Millisecond)
		t.Cleanup(n.Close)
		ups = append(ups, n)
	}
	pool := balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, ups)
	net := &proxy.Network{Name: "default", Pool: pool, Health: observer{}, Retries: 0, TryTimeout: 5 * time.Second,
		Paths: []string{"/", "/sim"}}
	if sched != nil {
		net.Sched = sched(pool)
	}
	opts := proxy.Options{MaxBodyBytes: 2048, MaxBatchSize: 1000, RequestTimeout: 30 * time.Second}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), nil)
}

func servePath(h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// A node's answer on / and /sim carries prio-load-balancer's five headers,
// whole numbers, with the queue sizes the scheduler reported; the same call
// on /default carries none. A node's JSON-RPC error and a batch get them too.
func TestPrioPathsHeaders(t *testing.T) {
	node := startFakeNode(t)
	var s *sizedSched
	h := newPrioHandler(t, []string{node.URL()}, func(p *balancer.Pool) proxy.Scheduler {
		s = &sizedSched{pool: p, start: 3, end: 1}
		return s
	})
	for _, tc := range []struct {
		name, path, body, want string
	}{
		{"result", "/sim", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, `{"jsonrpc":"2.0","id":1,"result":"0x3e8"}`},
		{"root", "/", `{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]}`, `{"jsonrpc":"2.0","id":2,"result":"0x1"}`},
		{"rpc error", "/sim", `{"jsonrpc":"2.0","id":3,"method":"eth_call","params":[]}`, `"message":"execution reverted"`},
		{"batch", "/", `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber","params":[]}]`,
			`[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"result":"0x3e8"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := servePath(h, http.MethodPost, tc.path, tc.body, "X-High-Priority", "true")
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("answer %d %s, want 200 with %s", w.Code, w.Body, tc.want)
			}
			for _, k := range prioHeaders {
				v := w.Header().Get(k)
				if _, err := strconv.ParseInt(v, 10, 64); err != nil {
					t.Errorf("%s = %q, want a whole number", k, v)
				}
			}
			if got := w.Header().Get("X-PrioLB-QueueSizeStart") + "," + w.Header().Get("X-PrioLB-QueueSizeEnd"); got != "3,1" {
				t.Errorf("queue sizes start,end = %s, want 3,1", got)
			}
			total, _ := strconv.ParseInt(w.Header().Get("X-PrioLB-TotalDurationUs"), 10, 64)
			queue, _ := strconv.ParseInt(w.Header().Get("X-PrioLB-QueueDurationUs"), 10, 64)
			sim, _ := strconv.ParseInt(w.Header().Get("X-PrioLB-SimDurationUs"), 10, 64)
			if queue < 0 || sim < 0 || queue+sim > total {
				t.Errorf("queue %dµs + sim %dµs is more than total %dµs", queue, sim, total)
			}
			if s.gotClass != proxy.High {
				t.Errorf("class %s, want high", s.gotClass)
			}
		})
	}
	w := servePath(h, http.MethodPost, "/default", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("/default: %d %s", w.Code, w.Body)
	}
	for _, k := range prioHeaders {
		if v, ok := w.Header()[http.CanonicalHeaderKey(k)]; ok {
			t.Errorf("/default answer has %s: %v", k, v)
		}
	}
}

// The gateway's own failures on a prio-load-balancer path are plain text
// with its status codes (400 body too large, 500 otherwise) and no timing
// headers; a body that is not JSON-RPC stays a JSON-RPC error, and so do
// invalid params (answered 200, as a node answers them).
func TestPrioPathsErrors(t *testing.T) {
	node := startFakeNode(t)
	full := newPrioHandler(t, []string{node.URL()}, func(p *balancer.Pool) proxy.Scheduler {
		return &sizedSched{pool: p, err: fmt.Errorf("%w: the low priority queue is full", proxy.ErrQueueFull)}
	})
	none := newPrioHandler(t, nil, nil)
	ok := newPrioHandler(t, []string{node.URL()}, nil)
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`
	for _, tc := range []struct {
		name     string
		h        http.Handler
		body     string
		status   int
		contains string
		plain    bool
	}{
		{"too large", ok, `{"jsonrpc":"2.0","id":1,"method":"x","params":["` + strings.Repeat("a", 4096) + `"]}`, 400, "Payload too large", true},
		{"queue full", full, call, 500, "queue is full", true},
		{"no node", none, call, 500, "no node", true},
		{"not json", ok, `hello`, 400, `"code":-32700`, false},
		{"ambiguous params", ok, `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"FromBlock":"0x0"}]}`, 200, `"code":-32602`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := servePath(tc.h, http.MethodPost, "/sim", tc.body)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.contains) {
				t.Fatalf("answer %d %q, want %d with %q", w.Code, w.Body, tc.status, tc.contains)
			}
			isPlain := strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain")
			if isPlain != tc.plain || (tc.plain && bytes.HasPrefix(w.Body.Bytes(), []byte("{"))) {
				t.Fatalf("content type %q, body %q: want plain text %v", w.Header().Get("Content-Type"), w.Body, tc.plain)
			}
			if v := w.Header().Get("X-PrioLB-TotalDurationUs"); v != "" && tc.status != http.StatusOK {
				t.Fatalf("failure carries X-PrioLB-TotalDurationUs %s", v)
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id")
			}
		})
	}
	// The same failure on the network's own path keeps evmgate's JSON-RPC answer.
	w := servePath(full, http.MethodPost, "/default", call)
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), `"code":-32051`) {
		t.Fatalf("/default queue full: %d %s", w.Code, w.Body)
	}
}

// GET on a prio-load-balancer path answers 200; on the network's path it
// stays 405; an unknown path stays 404.
func TestPrioPathsGet(t *testing.T) {
	h := newPrioHandler(t, []string{startFakeNode(t).URL()}, nil)
	for _, tc := range []struct {
		path   string
		status int
	}{{"/", 200}, {"/sim", 200}, {"/default", 405}, {"/sim/", 404}, {"/other", 404}} {
		w := servePath(h, http.MethodGet, tc.path, "")
		if w.Code != tc.status {
			t.Errorf("GET %s: %d %s, want %d", tc.path, w.Code, w.Body, tc.status)
		}
	}
	resp := servePath(h, http.MethodGet, "/", "")
	if b, _ := io.ReadAll(resp.Body); !bytes.Contains(b, []byte("prio-load-balancer")) {
		t.Errorf("GET / body %q", b)
	}
}

// BenchmarkForwardPrio is BenchmarkForward's small call on a
// prio-load-balancer path: the cost of its headers and queue sizes.
func BenchmarkForwardPrio(b *testing.B) {
	for _, path := range []string{"/default", "/sim"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			h := newPrioHandler(b, []string{startReplayNode(b), startReplayNode(b)}, func(p *balancer.Pool) proxy.Scheduler {
				return &sizedSched{pool: p, start: 2, end: 1}
			})
			req, body := newBenchRequest(b, blockNumberBody)
			req.URL.Path = path
			req.Header.Set("X-High-Priority", "true")
			w := &discardWriter{header: http.Header{}}
			serve := func() {
				body.Reset(blockNumberBody)
				clear(w.header)
				w.reset()
				h.ServeHTTP(w, req)
			}
			serve()
			if w.status != http.StatusOK {
				b.Fatalf("answer %d %q", w.status, w.head)
			}
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}
