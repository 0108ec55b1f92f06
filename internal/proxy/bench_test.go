package proxy_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// The bodies of the load benchmark's workloads (cmd/evmgate-bench).
var (
	blockNumberBody = []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	blockBody       = []byte(`{"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["0x1",true]}`)
	batch10Body     = []byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},` +
		`{"jsonrpc":"2.0","id":2,"method":"eth_chainId","params":[]},` +
		`{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]},` +
		`{"jsonrpc":"2.0","id":4,"method":"net_version","params":[]},` +
		`{"jsonrpc":"2.0","id":5,"method":"eth_syncing","params":[]},` +
		`{"jsonrpc":"2.0","id":6,"method":"eth_blockNumber","params":[]},` +
		`{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]},` +
		`{"jsonrpc":"2.0","id":8,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]},` +
		`{"jsonrpc":"2.0","id":9,"method":"net_version","params":[]},` +
		`{"jsonrpc":"2.0","id":10,"method":"eth_syncing","params":[]}]`)
)

// BenchmarkForward is one proxied call through Handler.ServeHTTP to a node
// over loopback HTTP, with metrics on: routing, reading the body, parsing,
// selection, the upstream round trip, scanning the answer and streaming it
// back. The node replays the fake node's answers from a raw socket and
// allocates nothing, and the client side (request, response writer) is
// reused, so allocs/op is the gateway's forward path plus Go's HTTP client
// to the node — not the HTTP server that would accept the client's call.
func BenchmarkForward(b *testing.B) {
	benchmarkForward(b, func(tb testing.TB) string { return startReplayNode(tb) })
}

// BenchmarkForwardFakeNode is BenchmarkForward against fakenode itself, in
// this process: its net/http server and handler count in every figure.
func BenchmarkForwardFakeNode(b *testing.B) {
	benchmarkForward(b, func(tb testing.TB) string { return startFakeNode(tb).URL() })
}

func benchmarkForward(b *testing.B, node func(testing.TB) string) {
	for _, bc := range []struct {
		name    string
		body    []byte
		results int
	}{
		{"blockNumber", blockNumberBody, 1},
		{"batch10", batch10Body, 10},
		{"block100k", blockBody, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newBenchHandler(b, []string{node(b), node(b)})
			req, body := newBenchRequest(b, bc.body)
			w := &discardWriter{header: http.Header{}}
			serve := func() {
				body.Reset(bc.body)
				clear(w.header)
				w.reset()
				h.ServeHTTP(w, req)
			}
			serve()
			if w.status != http.StatusOK || bytes.Count(w.head, []byte(`"result"`)) != bc.results {
				b.Fatalf("answer %d %q, want %d results", w.status, w.head, bc.results)
			}
			size := w.size
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				serve()
			}
			b.StopTimer()
			if w.status != http.StatusOK || w.size != size {
				b.Fatalf("last answer %d of %d bytes, want 200 of %d", w.status, w.size, size)
			}
		})
	}
}

// TestBenchmarkNodesAnswer keeps the benchmarks honest: through the
// handler, the replay node and the fake node give the same answers, with
// one result per call, and the big block is streamed whole.
func TestBenchmarkNodesAnswer(t *testing.T) {
	for _, bc := range []struct {
		body    []byte
		results int
	}{{blockNumberBody, 1}, {batch10Body, 10}, {blockBody, 1}} {
		var sizes []int
		for _, url := range []string{startReplayNode(t), startFakeNode(t).URL()} {
			h := newBenchHandler(t, []string{url})
			req, _ := newBenchRequest(t, bc.body)
			w := &discardWriter{header: http.Header{}}
			w.reset()
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK || bytes.Count(w.head, []byte(`"result"`)) != bc.results {
				t.Fatalf("%s: answer %d %q, want %d results", url, w.status, w.head, bc.results)
			}
			sizes = append(sizes, w.size)
		}
		if sizes[0] != sizes[1] {
			t.Fatalf("replay node answered %d bytes, fake node %d", sizes[0], sizes[1])
		}
	}
}

// BenchmarkForwardParallel runs BenchmarkForward's small call from
// GOMAXPROCS×4 goroutines at once: contention on the pool, counters and
// connections.
func BenchmarkForwardParallel(b *testing.B) {
	h := newBenchHandler(b, []string{startReplayNode(b), startReplayNode(b)})
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		req, body := newBenchRequest(b, blockNumberBody)
		w := &discardWriter{header: http.Header{}}
		for pb.Next() {
			body.Reset(blockNumberBody)
			clear(w.header)
			w.reset()
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Errorf("status %d: %q", w.status, w.head)
				return
			}
		}
	})
}

// BenchmarkParse is the request scan that every call goes through.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{{"single", blockNumberBody}, {"batch10", batch10Body}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				if _, _, err := jsonrpc.Parse(bc.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSelect is one node pick and release among healthy nodes, for
// each strategy.
func BenchmarkSelect(b *testing.B) {
	for _, name := range []string{"p2c", "least_conn", "round_robin", "best"} {
		b.Run(name, func(b *testing.B) {
			st, err := balancer.NewStrategy(name)
			if err != nil {
				b.Fatal(err)
			}
			var nodes []*upstream.Node
			for i := range 8 {
				nodes = append(nodes, healthyNode("http://127.0.0.1:1", string(rune('a'+i)), time.Duration(i+1)*time.Millisecond))
			}
			pool := balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5, Strategy: st,
				Priority: []balancer.Criterion{balancer.ByChainhead, balancer.ByLatency}}, nodes)
			b.ReportAllocs()
			for b.Loop() {
				n := pool.Pick(nil, balancer.Need{})
				if n == nil {
					b.Fatal("no node picked")
				}
				n.Release()
			}
		})
	}
}

func healthyNode(rawURL, name string, latency time.Duration) *upstream.Node {
	n := upstream.New(upstream.Spec{Name: name, Network: "bench", URL: rawURL, Timeout: 5 * time.Second})
	n.SetChainID(1)
	n.SetState(upstream.Up)
	n.ObserveHead(1000, time.Now().Unix(), latency)
	return n
}

// newBenchHandler serves network "bench" over healthy nodes at urls, with
// the gateway's metrics registered.
func newBenchHandler(b testing.TB, urls []string) *proxy.Handler {
	b.Helper()
	var ups []*upstream.Node
	for i, u := range urls {
		n := healthyNode(u, string(rune('a'+i)), time.Millisecond)
		b.Cleanup(n.Close)
		ups = append(ups, n)
	}
	m, err := metrics.New(prometheus.NewRegistry(), func() []metrics.Network { return nil })
	if err != nil {
		b.Fatal(err)
	}
	pool := balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, ups)
	net := &proxy.Network{Name: "bench", Pool: pool, Health: observer{}, Retries: 2, TryTimeout: 5 * time.Second}
	opts := proxy.Options{MaxBodyBytes: 8 << 20, MaxBatchSize: 1000, RequestTimeout: 30 * time.Second}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), m)
}

// startFakeNode runs a fake node whose blocks are 100 kB.
func startFakeNode(b testing.TB) *fakenode.Node {
	b.Helper()
	f, err := fakenode.Start(fakenode.Options{Name: "fake", ChainID: 1, Head: 1000, BigBlock: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	return f
}

// observer takes request outcomes and does nothing with them.
type observer struct{}

func (observer) Observe(*upstream.Node, error) {}

// resettableBody is a request body that can be read again.
type resettableBody struct{ bytes.Reader }

func (*resettableBody) Close() error { return nil }

func newBenchRequest(b testing.TB, payload []byte) (*http.Request, *resettableBody) {
	b.Helper()
	u, err := url.Parse("http://127.0.0.1/bench")
	if err != nil {
		b.Fatal(err)
	}
	body := &resettableBody{}
	body.Reset(payload)
	req := &http.Request{
		Method: http.MethodPost, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          body,
		ContentLength: int64(len(payload)),
		Host:          "127.0.0.1",
		RemoteAddr:    "127.0.0.1:40000",
	}
	return req, body
}

// discardWriter is a ResponseWriter that keeps the status, the size and
// the first bytes of the answer. Like net/http's response it implements
// io.ReaderFrom with a reused buffer, so streaming through it allocates no
// copy buffer that a real server would not.
type discardWriter struct {
	header  http.Header
	status  int
	size    int
	head    []byte
	buf     [1024]byte
	copyBuf []byte
}

func (w *discardWriter) reset() { w.status, w.size, w.head = 0, 0, w.buf[:0] }

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if room := cap(w.head) - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(room, len(p))]...)
	}
	w.size += len(p)
	return len(p), nil
}

func (w *discardWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.copyBuf == nil {
		w.copyBuf = make([]byte, 32<<10)
	}
	var total int64
	for {
		n, err := r.Read(w.copyBuf)
		if n > 0 {
			w.Write(w.copyBuf[:n])
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

var _ io.ReaderFrom = (*discardWriter)(nil)
