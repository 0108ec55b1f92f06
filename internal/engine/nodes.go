package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// state is a node's live state.
type state int32

const (
	// stateAlive: eth_syncing answered false; the node votes (unless
	// do-not-use) and may be primary.
	stateAlive state = iota
	// stateSyncing: the node answers but is syncing; it receives
	// newPayload/forkchoiceUpdated to stay in step but does not vote.
	stateSyncing
	// stateDead: the node did not answer; it gets no calls until a probe
	// succeeds.
	stateDead
)

func (s state) String() string {
	switch s {
	case stateAlive:
		return "alive"
	case stateSyncing:
		return "syncing"
	}
	return "dead"
}

// queueLen bounds the ordered calls waiting for one node.
const queueLen = 64

// node is one execution client: fixed identity plus atomic live state.
type node struct {
	index    int    // configuration order, stable for the node's life
	url      string // as configured
	name     string // the URL without credentials or query: for logs, metrics, status
	secret   Secret
	timeout  time.Duration
	doNotUse bool

	state atomic.Int32 // a state
	rtt   atomic.Int64 // last probe round trip, ns

	// queue carries newPayload/forkchoiceUpdated in the order the gateway
	// received them; one goroutine per node sends them one at a time, which
	// keeps the order the spec requires for every node.
	queue chan *job
}

func (n *node) getState() state { return state(n.state.Load()) }

func (n *node) votes() bool { return !n.doNotUse && n.getState() == stateAlive }

// job is one ordered call for one node; out is buffered, so the node's
// goroutine never waits for the collector.
type job struct {
	body []byte
	slot int
	out  chan<- outcome
}

// outcome is one node's answer to a fanned-out call.
type outcome struct {
	slot int
	resp response
	err  error
	took time.Duration
}

// runQueue sends n's ordered calls until the Mux closes. Each call gets the
// node's full timeout from the moment it is sent, also when the consensus
// client already has its answer: the node must stay in step.
func (m *Mux) runQueue(n *node) {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case j := <-n.queue:
			start := time.Now()
			resp, err := m.post(m.ctx, n, j.body, n.timeout)
			took := time.Since(start)
			m.observe(n, "ordered", took, err)
			j.out <- outcome{slot: j.slot, resp: resp, err: err, took: took}
		}
	}
}

// observe records a call's latency and, on failure, marks the node dead and
// asks for a probe at once.
func (m *Mux) observe(n *node, kind string, took time.Duration, err error) {
	m.metrics.latency.WithLabelValues(n.name, kind).Observe(took.Seconds())
	if err == nil || m.ctx.Err() != nil {
		return
	}
	m.metrics.failures.WithLabelValues(n.name).Inc()
	m.setState(n, stateDead, err)
	m.kick()
}

func (m *Mux) setState(n *node, s state, cause error) {
	old := state(n.state.Swap(int32(s)))
	m.metrics.setNodeState(n.name, s)
	if old == s {
		return
	}
	attrs := []any{"node", n.name, "from", old.String(), "to", s.String()}
	if cause != nil {
		attrs = append(attrs, "err", cause)
	}
	if s == stateDead {
		m.log.Warn("engine node state changed", attrs...)
	} else {
		m.log.Info("engine node state changed", attrs...)
	}
}

// kick asks the recheck loop for a probe now; it never blocks.
func (m *Mux) kick() {
	select {
	case m.recheckNow <- struct{}{}:
	default:
	}
}

// probe asks one node eth_syncing and sets its state from the answer: false
// is alive, and so is a sync object whose currentBlock has reached
// highestBlock (geth reports one while it only indexes transactions, e.g.
// at genesis until its first block, and indexing does not affect payload
// validation); anything else (true, a sync object behind, a JSON-RPC error)
// is syncing, no answer is dead.
func (m *Mux) probe(ctx context.Context, n *node) {
	start := time.Now()
	resp, err := m.post(ctx, n, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_syncing","params":[]}`), n.timeout)
	took := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	m.metrics.latency.WithLabelValues(n.name, "probe").Observe(took.Seconds())
	switch {
	case err != nil:
		m.setState(n, stateDead, err)
	case !resp.failed() && synced(resp.Result):
		n.rtt.Store(int64(took))
		m.setState(n, stateAlive, nil)
	default:
		n.rtt.Store(int64(took))
		m.setState(n, stateSyncing, nil)
	}
}

// recheck probes every node concurrently and returns when all are done.
func (m *Mux) recheck(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range m.nodeList() {
		wg.Go(func() { m.probe(ctx, n) })
	}
	wg.Wait()
}

// recheckLoop probes on the interval and whenever kicked.
func (m *Mux) recheckLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.dur.recheck)
	defer t.Stop()
	m.recheck(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.recheckNow:
		}
		m.recheck(ctx)
	}
}

func (m *Mux) nodeList() []*node { return *m.nodes.Load() }

// ranked returns the nodes that may serve single-node calls, best first:
// alive voting nodes by probe round trip, then syncing, then dead ones (a
// stale state is better than no answer). do-not-use nodes are never used.
func (m *Mux) ranked() []*node {
	var out []*node
	for _, n := range m.nodeList() {
		if !n.doNotUse {
			out = append(out, n)
		}
	}
	slices.SortStableFunc(out, func(a, b *node) int {
		if sa, sb := a.getState(), b.getState(); sa != sb {
			return int(sa) - int(sb)
		}
		if a.getState() == stateAlive {
			if ra, rb := a.rtt.Load(), b.rtt.Load(); ra != rb {
				return cmpInt64(ra, rb)
			}
		}
		return a.index - b.index
	})
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// primary returns the fastest synced voting node, or nil.
func (m *Mux) primary() *node {
	r := m.ranked()
	if len(r) == 0 || r[0].getState() != stateAlive {
		return nil
	}
	return r[0]
}

// newNode builds a node from its configuration; defaultSecret and
// defaultTimeout apply when the node sets none.
func newNode(i int, nc NodeConfig, defaultSecret Secret, defaultTimeout time.Duration) (*node, error) {
	n := &node{index: i, url: nc.URL, name: nodeurl.Redact(nc.URL), secret: defaultSecret,
		timeout: defaultTimeout, doNotUse: nc.DoNotUse, queue: make(chan *job, queueLen)}
	if nc.JWTSecretPath != "" {
		s, err := LoadSecret(nc.JWTSecretPath)
		if err != nil {
			return nil, fmt.Errorf("loading secret of node %s: %w", n.name, err)
		}
		n.secret = s
	}
	if nc.Timeout != "" {
		d, err := time.ParseDuration(nc.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("parsing timeout of node %s: %q is not a positive duration", n.name, nc.Timeout)
		}
		n.timeout = d
	}
	return n, nil
}

// synced reports whether an eth_syncing result says the chain is in step.
func synced(result []byte) bool {
	result = bytes.TrimSpace(result)
	if bytes.Equal(result, []byte("false")) {
		return true
	}
	var p struct {
		Current string `json:"currentBlock"`
		Highest string `json:"highestBlock"`
	}
	if json.Unmarshal(result, &p) != nil {
		return false
	}
	current, err1 := strconv.ParseUint(strings.TrimPrefix(p.Current, "0x"), 16, 64)
	highest, err2 := strconv.ParseUint(strings.TrimPrefix(p.Highest, "0x"), 16, 64)
	return err1 == nil && err2 == nil && current >= highest
}
