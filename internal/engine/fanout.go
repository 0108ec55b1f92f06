package engine

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// The gateway's own SYNCING answers, shaped as every version of the method
// expects (PayloadStatusV1; forkchoiceUpdated carries payloadId null inside
// the result).
var (
	syncingStatus    = []byte(`{"status":"SYNCING","latestValidHash":null,"validationError":null}`)
	syncingForkchoce = []byte(`{"payloadStatus":{"status":"SYNCING","latestValidHash":null,"validationError":null},"payloadId":null}`)
)

func syncingReply(kind methodClass) reply {
	if kind == kindForkchoice {
		return reply{result: syncingForkchoce}
	}
	return reply{result: syncingStatus}
}

var errQueueFull = errors.New("node queue full")

// collectGrace lets a node's own timeout arrive as an answer before the
// collector gives up on it.
const collectGrace = 50 * time.Millisecond

// fanOut sends a newPayload or forkchoiceUpdated call to every node that is
// not dead, in the same order on every node, and answers by the quorum rule
// as soon as the outcome is settled. Nodes still working keep their call.
func (m *Mux) fanOut(ctx context.Context, c request, kind methodClass) reply {
	var targets []*node
	for _, n := range m.nodeList() {
		if n.getState() != stateDead {
			targets = append(targets, n)
		}
	}
	if len(targets) == 0 {
		m.kick()
		m.metrics.votes.WithLabelValues(kindLabel(kind), string(StatusSyncing)).Inc()
		return syncingReply(kind)
	}
	body := encodeCall(m.callID.Add(1), c.Method, c.Params)
	out := make(chan outcome, len(targets))
	start := time.Now()
	var full []*node
	m.dispatchMu.Lock()
	for slot, n := range targets {
		select {
		case n.queue <- &job{body: body, slot: slot, out: out}:
		default:
			out <- outcome{slot: slot, err: errQueueFull}
			full = append(full, n)
		}
	}
	m.dispatchMu.Unlock()
	for _, n := range full {
		// The node is far behind; leave it out until a probe finds it well.
		m.observe(n, "ordered", 0, errQueueFull)
	}
	t := m.collect(ctx, kind, targets, out, start)
	rep := m.decide(kind, t)
	if !slices.ContainsFunc(targets, (*node).votes) {
		// Every node syncing (as geth reports while it indexes transactions
		// after a start): probe again now rather than at the next interval,
		// so the consensus client's next call can be answered VALID.
		m.kick()
	}
	if m.traceFanOut != nil {
		m.traceFanOut(c.Method, t.slowest)
	}
	return rep
}

// tally is what the collector knows about one fanned-out call.
type tally struct {
	votes   []Vote
	answers map[int]parsedStatus // by node index, voters only
	errs    map[int]response     // JSON-RPC error answers of voters, by node index
	pending int                  // voters still waited for
	slowest time.Duration        // longest round trip among the voters that answered
}

// collect gathers voters' answers until the rule is settled, every voter it
// waits for has answered or had its wait, or ctx ends. A voter is waited for
// up to its voteWait; a stalled node (alive, but its last ordered call went
// unanswered) is not waited for at all. Either's answer still counts when it
// comes while the collector waits for others: an INVALID is never thrown
// away, it only is not awaited.
func (m *Mux) collect(ctx context.Context, kind methodClass, targets []*node, out <-chan outcome, start time.Time) *tally {
	t := &tally{answers: map[int]parsedStatus{}, errs: map[int]response{}}
	counts := map[int]bool{}        // slots whose answer is a vote
	deadline := map[int]time.Time{} // slots still waited for
	for slot, n := range targets {
		if n.mayVote() {
			counts[slot] = true
		}
		if n.votes() {
			deadline[slot] = start.Add(n.voteWait() + collectGrace)
		}
	}
	t.pending = len(deadline)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for t.pending > 0 && !m.rule.Settled(t.votes, t.pending) {
		timer.Reset(time.Until(earliest(deadline)))
		select {
		case o := <-out:
			if !counts[o.slot] {
				continue
			}
			delete(counts, o.slot)
			if _, waited := deadline[o.slot]; waited {
				delete(deadline, o.slot)
				t.pending--
			}
			t.slowest = max(t.slowest, o.took)
			m.record(t, kind, targets[o.slot], o)
		case now := <-timer.C:
			for slot, d := range deadline {
				if !now.Before(d) {
					delete(deadline, slot)
					t.pending--
				}
			}
		case <-ctx.Done():
			return t
		}
	}
	return t
}

func earliest(deadlines map[int]time.Time) time.Time {
	var e time.Time
	for _, d := range deadlines {
		if e.IsZero() || d.Before(e) {
			e = d
		}
	}
	return e
}

// record adds one voter's outcome to the tally. Failures and garbage are no
// vote; a JSON-RPC error is kept in case nobody answers with a status.
func (m *Mux) record(t *tally, kind methodClass, n *node, o outcome) {
	switch {
	case o.err != nil:
		m.log.Debug("engine node gave no answer", "node", n.name, "err", o.err)
	case o.resp.failed():
		t.errs[n.index] = o.resp
	default:
		ps, err := parseStatus(kind, o.resp.Result)
		if err != nil {
			m.metrics.garbage.WithLabelValues(n.name).Inc()
			m.log.Warn("engine node answered garbage", "node", n.name, "err", err)
			return
		}
		t.answers[n.index] = ps
		t.votes = append(t.votes, Vote{Node: n.index, Status: ps.status, LVH: ps.lvh})
	}
}

// decide turns the tally into the consensus client's answer.
func (m *Mux) decide(kind methodClass, t *tally) reply {
	label := kindLabel(kind)
	d := m.rule.Decide(t.votes)
	if d.Groups > 1 || (len(t.votes) > 0 && len(t.errs) > 0) {
		m.metrics.disagreements.WithLabelValues(label).Inc()
		m.log.Info("engine nodes disagree", "method", label, "groups", d.Groups, "errors", len(t.errs), "answer", d.Status)
	}
	if len(t.votes) == 0 && len(t.errs) > 0 {
		// Nobody answered with a status but a node answered with an error
		// (e.g. -38003 invalid payload attributes, -38005 unsupported fork):
		// the consensus client must see that error, not a SYNCING.
		m.metrics.votes.WithLabelValues(label, "error").Inc()
		return t.errs[minKey(t.errs)].asReply()
	}
	m.metrics.votes.WithLabelValues(label, string(d.Status)).Inc()
	if d.Fallback {
		return syncingReply(kind)
	}
	win := t.answers[d.Members[0]]
	if kind != kindForkchoice {
		return reply{result: win.raw}
	}
	return m.forkchoiceReply(d, t, win)
}

// forkchoiceReply builds the fcU answer: the winner's result as is, except
// that a VALID head with payload building gets the gateway's own payloadId,
// and any other status gets payloadId null.
func (m *Mux) forkchoiceReply(d Decision, t *tally, win parsedStatus) reply {
	if d.Status != StatusValid {
		if win.hasPayloadID() {
			return reply{result: forkchoiceResult(win.payloadStatus, nil)}
		}
		return reply{result: win.raw}
	}
	var builds []build
	for _, idx := range d.Members {
		if a := t.answers[idx]; a.hasPayloadID() {
			builds = append(builds, build{node: m.nodeByIndex(idx), id: a.payloadID})
		}
	}
	if len(builds) == 0 {
		return reply{result: win.raw}
	}
	id, err := m.payloads.put(builds)
	if err != nil {
		m.log.Error("engine payload id not stored", "err", err)
		return errorReply(&rpcError{jsonrpc.CodeInternal, "storing payload id failed"})
	}
	return reply{result: forkchoiceResult(win.payloadStatus, []byte(`"`+id+`"`))}
}

func forkchoiceResult(status, payloadID []byte) []byte {
	if payloadID == nil {
		payloadID = []byte("null")
	}
	b := make([]byte, 0, len(status)+len(payloadID)+32)
	b = append(b, `{"payloadStatus":`...)
	b = append(b, status...)
	b = append(b, `,"payloadId":`...)
	b = append(b, payloadID...)
	return append(b, '}')
}

func (m *Mux) nodeByIndex(idx int) *node {
	for _, n := range m.nodeList() {
		if n.index == idx {
			return n
		}
	}
	return nil
}

func minKey[V any](mp map[int]V) int {
	first, k := true, 0
	for i := range mp {
		if first || i < k {
			first, k = false, i
		}
	}
	return k
}

func kindLabel(kind methodClass) string {
	if kind == kindForkchoice {
		return "forkchoiceUpdated"
	}
	return "newPayload"
}
