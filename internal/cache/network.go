package cache

import (
	"context"
	"io"
	"sync"
	"sync/atomic"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// Chain is what a network's cache reads of the chain its nodes serve
// (health.Monitor). Both methods are called for every call the cache may
// answer: they must not block.
type Chain interface {
	// ChainID returns the chain the network serves; ok false while it is
	// not known, when nothing is kept or answered from the cache.
	ChainID() (id uint64, ok bool)
	// Finalized returns the network's finalized block; ok false while it
	// is not known, when nothing that depends on it is kept.
	Finalized() (block uint64, ok bool)
	// NodeFinalized returns the finalized block node n last reported; ok
	// false while it has reported none (not probed yet, or it does not
	// know the finalized tag). Called only when an answer may be kept.
	NodeFinalized(n *upstream.Node) (block uint64, ok bool)
}

// Network is one network's view of the store: its keys carry the network's
// name and chain id, and its finalized block decides what may be kept. A
// nil *Network is a cache that is off.
type Network struct {
	store   *Store
	name    string
	chain   Chain
	flights *flights
	stats   map[string]*stats // per method in policies, built once
	waiting atomic.Int64      // followers waiting for a leader
}

// Call is one call's standing with the cache, from Prepare.
type Call struct {
	// Key is the call's cache key; "" when the call is not a safe read
	// (neither kept nor deduplicated).
	Key   string
	p     policy
	chain uint64 // the chain in Key; only a node on it may fill it
	stats *stats
}

// Cacheable reports whether the call may be answered from the cache and its
// answer kept.
func (c *Call) Cacheable() bool { return c.Key != "" && c.p.rule != never }

// Shared reports whether identical calls in flight may share one answer.
func (c *Call) Shared() bool { return c.Key != "" }

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Prepare reads what the cache can do for c. It costs one allocation (the
// key) for a safe read and none otherwise.
func (n *Network) Prepare(c *jsonrpc.Call) Call {
	if n == nil || c.Err != nil || c.ID == nil {
		return Call{}
	}
	st, known := n.stats[c.Method]
	if !known {
		return Call{}
	}
	final, ok := n.chain.Finalized()
	p, _ := lookupRule(c, final, ok)
	chain, known := n.chain.ChainID()
	if !known {
		// An answer is kept, and found, only under the chain it is of.
		p.rule = never
	}
	if p.rule == never && !n.store.cfg.Dedup {
		return Call{}
	}
	bp := keyBufs.Get().(*[]byte)
	b := appendKey((*bp)[:0], n.name, chain, c.Method, c.Params)
	key := string(b)
	*bp = b[:0]
	keyBufs.Put(bp)
	return Call{Key: key, p: p, chain: chain, stats: st}
}

// MaxItemBytes is the largest answer kept or shared.
func (n *Network) MaxItemBytes() int { return n.store.cfg.MaxItemBytes }

// Get appends to dst the kept answer of c with id in place of the id the
// node saw, and reports whether there was one.
func (n *Network) Get(c *Call, id, dst []byte) ([]byte, bool) {
	a, ok := n.Lookup(c)
	if !ok {
		return dst, false
	}
	return a.e.appendTo(dst, id), true
}

// Answer is a kept answer, to be written with a client's id.
type Answer struct{ e *entry }

// Lookup returns c's kept answer, if there is one. Its bytes are shared and
// must not be changed.
func (n *Network) Lookup(c *Call) (Answer, bool) {
	if n == nil || !c.Cacheable() {
		return Answer{}, false
	}
	e, ok := n.store.c.GetIfPresent(c.Key)
	if !ok && n.store.l2 != nil {
		if e = n.store.l2.get(c.Key); e != nil {
			e.stats = c.stats
			n.keep(c.Key, e, false)
			ok = true
		}
	}
	if !ok {
		c.stats.misses.Inc()
		return Answer{}, false
	}
	c.stats.hits.Inc()
	return Answer{e: e}, true
}

// Size is the answer's length with id in it.
func (a Answer) Size(id []byte) int { return len(a.e.body) + len(id) }

// WriteTo writes the answer with id in it to w, without copying it.
func (a Answer) WriteTo(w io.Writer, id []byte) (int, error) {
	var total int
	for _, p := range [][]byte{a.e.body[:a.e.idAt], id, a.e.body[a.e.idAt:]} {
		n, err := w.Write(p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Put keeps node from's complete answer resp to c when its method's rule
// allows it, and reports whether it did. Only an answer of a node known to
// be on the chain c was keyed under is kept: a node not yet checked (or
// from nil, an answer no one node gave) may be on another. An answer that
// finality makes permanent is kept only when its blocks are final for the
// network and for from itself: a node on a fork of its own answers blocks
// past its own finalized block with its fork's, however far the network's
// finalized block is (a node whose finalized block is not known is not
// trusted with them either).
func (n *Network) Put(c *Call, resp []byte, from *upstream.Node) bool {
	if n == nil || !c.Cacheable() || len(resp) > n.store.cfg.MaxItemBytes {
		return false
	}
	if from == nil || from.ChainID() != c.chain {
		return false
	}
	final, ok := n.chain.Finalized()
	if ok && c.p.rule != static {
		var mine uint64
		mine, ok = n.chain.NodeFinalized(from)
		final = min(final, mine)
	}
	if !keepable(c.p, resp, final, ok) {
		return false
	}
	e := cut(resp, c.stats)
	if e == nil {
		return false
	}
	n.keep(c.Key, e, true)
	return true
}

// keep holds e in memory under key and, when toL2, queues it for Redis.
func (n *Network) keep(key string, e *entry, toL2 bool) {
	e.stats.bytes.Add(float64(len(key) + len(e.body)))
	n.store.c.Set(key, e)
	if toL2 && n.store.l2 != nil {
		n.store.l2.put(key, e)
	}
}

// cut copies resp without its id value; nil when resp has no id.
func cut(resp []byte, st *stats) *entry {
	s, end, ok := jsonrpc.IDSpan(resp)
	if !ok {
		return nil
	}
	body := make([]byte, 0, len(resp)-(end-s))
	body = append(body, resp[:s]...)
	body = append(body, resp[end:]...)
	return &entry{body: body, idAt: s, stats: st}
}

// appendTo appends the answer with id spliced in.
func (e *entry) appendTo(dst, id []byte) []byte {
	dst = append(dst, e.body[:e.idAt]...)
	dst = append(dst, id...)
	return append(dst, e.body[e.idAt:]...)
}

// flightKey separates flights by priority class: a call never waits behind
// an identical call of a lower class that is still queued.
type flightKey struct {
	class uint8
	key   string
}

// flights are the safe reads in flight, by key.
type flights struct {
	mu sync.Mutex // mu protects m
	m  map[flightKey]*Flight
}

func newFlights() *flights { return &flights{m: map[flightKey]*Flight{}} }

// Flight is one upstream call that identical calls wait for.
type Flight struct {
	key  flightKey
	done chan struct{}
	ans  *entry // set before done is closed; nil when the leader failed
}

// Join makes the caller the leader of c's flight in class, or a follower of
// the flight already under way. A leader must call Finish.
func (n *Network) Join(c *Call, class uint8) (f *Flight, leader bool) {
	k := flightKey{class: class, key: c.Key}
	fs := n.flights
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[k]; ok {
		return f, false
	}
	f = &Flight{key: k, done: make(chan struct{})}
	fs.m[k] = f
	return f, true
}

// Finish ends the leader's flight: resp is the complete answer to share
// (a result or the method's own error), nil when the leader failed and every
// follower must go on by itself.
func (n *Network) Finish(c *Call, f *Flight, resp []byte) {
	fs := n.flights
	fs.mu.Lock()
	delete(fs.m, f.key)
	fs.mu.Unlock()
	if resp != nil && len(resp) <= n.store.cfg.MaxItemBytes {
		f.ans = cut(resp, c.stats)
	}
	close(f.done)
}

// Wait waits for the leader's answer until ctx ends. It appends the shared
// answer with id spliced in and ok true; ok false with a nil error when the
// leader failed (the follower goes on by itself); ctx's error when the
// follower's own deadline passed or its client went away first.
func (f *Flight) Wait(ctx context.Context, n *Network, c *Call, id, dst []byte) (out []byte, ok bool, err error) {
	n.waiting.Add(1)
	defer n.waiting.Add(-1)
	select {
	case <-f.done:
	case <-ctx.Done():
		return dst, false, ctx.Err()
	}
	if f.ans == nil {
		return dst, false, nil
	}
	c.stats.shared.Inc()
	return f.ans.appendTo(dst, id), true, nil
}

// Waiting returns the number of calls waiting for an identical call's
// answer (for tests).
func (n *Network) Waiting() int { return int(n.waiting.Load()) }

// InFlight returns the number of flights under way (for tests).
func (n *Network) InFlight() int {
	n.flights.mu.Lock()
	defer n.flights.mu.Unlock()
	return len(n.flights.m)
}
