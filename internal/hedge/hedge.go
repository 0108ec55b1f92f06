package hedge

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// Settings are a network's hedging settings.
type Settings struct {
	// Quantile of a node's recent answer times for a method after which a
	// copy is sent (0.95: the slowest 5% of tries get a copy).
	Quantile float64
	// MinDelay and MaxDelay bound the wait before a copy.
	MinDelay, MaxDelay time.Duration
}

// MinSamples is how many answers of a node to a method are needed before
// their quantile is trusted; until then the delay is MaxDelay.
const MinSamples = 20

// Policy is one network's hedging. It is safe for concurrent use.
type Policy struct {
	set     Settings
	network string
	metrics *Metrics

	mu    sync.RWMutex // mu protects times
	times map[key]*window
}

type key struct {
	n      *upstream.Node
	method string
}

// New returns the hedging policy of network. m may be nil.
func New(network string, set Settings, m *Metrics) *Policy {
	return &Policy{set: set, network: network, metrics: m, times: map[key]*window{}}
}

// Hedgeable reports whether a call of method may be sent twice: a known
// read. Writes, filters (whose ids live on one node), subscriptions and
// unknown methods are never hedged.
func Hedgeable(method string) bool {
	if !jsonrpc.Known(method) {
		return false
	}
	info := jsonrpc.Info(method)
	if info.SendTx || info.Subscription {
		return false
	}
	switch method {
	case "eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter",
		"eth_getFilterChanges", "eth_getFilterLogs", "eth_uninstallFilter":
		return false
	}
	return true
}

// Delay returns how long a try of method on n may take before a copy is
// sent.
func (p *Policy) Delay(n *upstream.Node, method string) time.Duration {
	p.mu.RLock()
	w := p.times[key{n, method}]
	p.mu.RUnlock()
	if w == nil {
		return p.set.MaxDelay
	}
	d, ok := w.quantile(p.set.Quantile)
	if !ok {
		return p.set.MaxDelay
	}
	return min(max(d, p.set.MinDelay), p.set.MaxDelay)
}

// Observe records how long n took to answer a call of method (to the
// answer's classification), or had taken when its try was given up.
func (p *Policy) Observe(n *upstream.Node, method string, took time.Duration) {
	k := key{n, method}
	p.mu.RLock()
	w := p.times[k]
	p.mu.RUnlock()
	if w == nil {
		p.mu.Lock()
		if w = p.times[k]; w == nil {
			w = new(window)
			p.times[k] = w
		}
		p.mu.Unlock()
	}
	w.add(took)
}

// Count records a hedge's outcome.
func (p *Policy) Count(o Outcome) { p.metrics.count(p.network, o) }

// Forget drops the answer times of nodes not in keep (nodes removed from
// the network). A nil Policy does nothing.
func (p *Policy) Forget(keep []*upstream.Node) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.times {
		if !slices.Contains(keep, k.n) {
			delete(p.times, k)
		}
	}
}

// window is a decaying histogram of answer times on a log scale: bucket i
// holds times from base·2^(i/4) up, so each bucket is about 19% wide and 64
// of them span 250µs to 16s. When it holds 2·keep answers every count is
// halved, so the quantile follows the last few hundred answers.
type window struct {
	mu     sync.Mutex // mu protects counts and total
	counts [buckets]uint32
	total  uint32
}

const (
	buckets = 64
	base    = 250 * time.Microsecond
	keep    = 256
)

func bucketOf(d time.Duration) int {
	if d <= base {
		return 0
	}
	i := int(4 * math.Log2(float64(d)/float64(base)))
	return min(i, buckets-1)
}

// upper is the top of bucket i.
func upper(i int) time.Duration {
	return time.Duration(float64(base) * math.Exp2(float64(i+1)/4))
}

func (w *window) add(d time.Duration) {
	i := bucketOf(d)
	w.mu.Lock()
	w.counts[i]++
	w.total++
	if w.total >= 2*keep {
		w.total = 0
		for j := range w.counts {
			w.counts[j] /= 2
			w.total += w.counts[j]
		}
	}
	w.mu.Unlock()
}

// quantile returns the top of the bucket holding quantile q; ok is false
// with fewer than MinSamples answers.
func (w *window) quantile(q float64) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total < MinSamples {
		return 0, false
	}
	rank := uint32(math.Ceil(q * float64(w.total)))
	var seen uint32
	for i, c := range w.counts {
		seen += c
		if seen >= rank {
			return upper(i), true
		}
	}
	return upper(buckets - 1), true
}
