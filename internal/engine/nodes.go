package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// trustedStreak is how many ordered calls in a row a node must answer in
// time, after one it left unanswered, before the collector again waits its
// full timeout for its vote; until then it waits a quarter of it
// (probationWait), so a node that hangs now and then costs the consensus
// client that quarter (1 s with the default node_timeout), not the whole
// timeout, each time.
const trustedStreak = 32

// probationWait is the share of a node's timeout the collector waits for a
// node on probation.
func probationWait(timeout time.Duration) time.Duration { return timeout / 4 }

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
	// streak counts the ordered calls (newPayload, forkchoiceUpdated) the
	// node answered within its timeout since the last one it did not,
	// capped at trustedStreak; a new node starts there. 0 means stalled:
	// its engine calls hang although it may well answer eth_syncing, so it
	// does not vote until it answers an ordered call again (the probe
	// cannot tell, and never restores it).
	streak atomic.Int32

	// queue carries newPayload/forkchoiceUpdated in the order the gateway
	// received them; one goroutine per node sends them one at a time, which
	// keeps the order the spec requires for every node.
	queue chan *job
}

func (n *node) getState() state { return state(n.state.Load()) }

// votes reports whether the collector waits for n's answers and counts them.
func (n *node) votes() bool { return n.mayVote() && !n.stalled() }

// mayVote reports whether n's answers count when they come: alive and not
// do-not-use. A stalled node is not waited for, but an answer it gives
// while the others are still awaited is a vote (its INVALID still vetoes).
func (n *node) mayVote() bool { return !n.doNotUse && n.getState() == stateAlive }

// stalled reports whether n's last ordered call got no answer in time.
func (n *node) stalled() bool { return n.streak.Load() == 0 }

// voteWait is how long the collector waits for n's answer: its timeout,
// or, on probation after a stall, a quarter of it.
func (n *node) voteWait() time.Duration {
	if n.streak.Load() < trustedStreak {
		return probationWait(n.timeout)
	}
	return n.timeout
}

// rank orders nodes for single-node calls: voting (0), alive but stalled
// (1), syncing (2), dead (3).
func (n *node) rank() int {
	switch s := n.getState(); {
	case s == stateAlive && n.stalled():
		return 1
	case s == stateAlive:
		return 0
	case s == stateSyncing:
		return 2
	}
	return 3
}

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
			// The streak changes before the collector hears of the answer,
			// so the consensus client's next call already sees it.
			if err == nil {
				m.answeredInTime(n)
			}
			m.observe(n, "ordered", took, err)
			j.out <- outcome{slot: j.slot, resp: resp, err: err, took: took}
		}
	}
}

// stall takes n out of voting after an ordered call it left unanswered
// within its timeout. The node is not marked dead: a probe, asked for now,
// says whether it is (an execution client whose engine calls hang may
// answer eth_syncing all along). It keeps getting every ordered call, in
// order, so that it stays in step; only answering one restores its vote.
func (m *Mux) stall(n *node, cause error) {
	if n.streak.Swap(0) != 0 {
		m.log.Warn("engine node stops voting", "node", n.name, "err", cause)
	}
	m.setVoting(n)
	m.kick()
}

// answeredInTime extends n's streak of ordered calls answered within its
// timeout; the first answer after a stall makes it vote again, on
// probation until the streak reaches trustedStreak.
func (m *Mux) answeredInTime(n *node) {
	s := n.streak.Load()
	if s >= trustedStreak {
		return
	}
	n.streak.Store(s + 1) // only n's queue goroutine writes streak
	if s == 0 {
		m.log.Info("engine node votes again", "node", n.name)
		m.setVoting(n)
	}
}

// setVoting publishes whether n votes now. The probe goroutine and n's
// queue goroutine both call it; a gauge they leave stale is set right by
// the next probe.
func (m *Mux) setVoting(n *node) {
	v := 0.0
	if n.votes() {
		v = 1
	}
	m.metrics.voting.WithLabelValues(n.name).Set(v)
}

// observe records a call's latency and, on failure, marks the node dead and
// asks for a probe at once.
func (m *Mux) observe(n *node, kind string, took time.Duration, err error) {
	m.metrics.latency.WithLabelValues(n.name, kind).Observe(took.Seconds())
	if err == nil || m.ctx.Err() != nil {
		return
	}
	m.metrics.failures.WithLabelValues(n.name).Inc()
	if kind == "ordered" && errors.Is(err, errNoAnswerInTime) {
		m.stall(n, err) // out of the vote, not dead: a probe says whether it is
		return
	}
	m.setState(n, stateDead, err)
	m.kick()
}

func (m *Mux) setState(n *node, s state, cause error) {
	old := state(n.state.Swap(int32(s)))
	m.metrics.setNodeState(n.name, s)
	m.setVoting(n)
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
// alive voting nodes by probe round trip, then stalled ones (alive, but
// their engine calls hang), then syncing, then dead ones (a stale state is
// better than no answer). do-not-use nodes are never used.
func (m *Mux) ranked() []*node {
	var out []*node
	for _, n := range m.nodeList() {
		if !n.doNotUse {
			out = append(out, n)
		}
	}
	slices.SortStableFunc(out, func(a, b *node) int {
		ra, rb := a.rank(), b.rank()
		if ra != rb {
			return ra - rb
		}
		if ra == 0 {
			if ta, tb := a.rtt.Load(), b.rtt.Load(); ta != tb {
				return cmpInt64(ta, tb)
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
	if len(r) == 0 || !r[0].votes() {
		return nil
	}
	return r[0]
}

// newNode builds a node from its configuration; defaultSecret and
// defaultTimeout apply when the node sets none.
func newNode(i int, nc NodeConfig, defaultSecret Secret, defaultTimeout time.Duration) (*node, error) {
	n := &node{index: i, url: nc.URL, name: nodeurl.Redact(nc.URL), secret: defaultSecret,
		timeout: defaultTimeout, doNotUse: nc.DoNotUse, queue: make(chan *job, queueLen)}
	n.streak.Store(trustedStreak)
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
