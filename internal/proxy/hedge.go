package proxy

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/evmgate/evmgate/internal/upstream"
	"go.opentelemetry.io/otel/trace"
)

// hedgeResult is what a hedged try tells the attempt loop: primary is the
// first try's own outcome, on which its node is judged; call is the call's
// (nil: answered, by either try); by is the node whose answer was served
// (nil: none was).
type hedgeResult struct {
	primary error
	call    error
	by      *upstream.Node
}

func (r *hedgeResult) Error() string {
	if r.call != nil {
		return r.call.Error()
	}
	return "answered by a hedge"
}

// errLost is the outcome of a try given up because the other one answered:
// no verdict on its node.
func errLost(n *upstream.Node) error {
	return &upstream.Error{Kind: upstream.KindCanceled, Node: n.Name, Err: errors.New("hedged: the other try answered first")}
}

// race is a hedged call's tries: the first, and the copy once sent.
type race struct {
	timeout time.Duration // per try
	limit   int           // bytes held of an answer
	body    []byte
	answers chan *tryAnswer
	pending int
	first   *tryAnswer
	second  *tryAnswer
}

// start opens a try on n in its own goroutine; its answer comes on
// r.answers.
func (r *race) start(ctx context.Context, n *upstream.Node) *tryAnswer {
	a := &tryAnswer{n: n} // set here: the caller reads it while the try runs
	tctx, stop := context.WithCancel(ctx)
	a.stop = stop
	r.pending++
	go func() {
		start := time.Now()
		openTry(tctx, n, r.body, a, r.timeout, r.limit, true)
		a.took = time.Since(start)
		r.answers <- a
	}()
	return a
}

// tryHedged runs a read on n and, when n is slower than the hedging delay,
// a copy on the next best node with a free slot; the first good answer is
// served and the other try cancelled. The copy's node is released, judged
// and counted here; n is judged by the attempt loop on its own outcome
// (hedgeResult.primary).
func (ex *exchange) tryHedged(ctx context.Context, n *upstream.Node, c *jsonrpc.Call, body []byte, need balancer.Need) error {
	r := &race{timeout: ex.times.try, limit: int(ex.h.options().MaxAnswerBytes), body: body, answers: make(chan *tryAnswer, 2)}
	r.first = r.start(ctx, n)
	winner := ex.runRace(ctx, r, n, c, need)
	for _, a := range []*tryAnswer{r.first, r.second} {
		if a != nil && a != winner {
			a.stop()
		}
	}
	// The winner is served first; the cancelled loser is waited for after.
	var answered error = errNotAnswered
	if winner != nil {
		answered = ex.finish(winner, c, false)
		if winner != r.first {
			ex.node = winner.n.Name
		}
	}
	ex.drainRace(ctx, r, c.Method)
	return ex.settleRace(ctx, r, winner, answered)
}

// runRace waits for the first good answer, sending the copy when the
// first try outlasts its delay. It returns the answer to serve: the first
// good one, else a weak one, else nil when every try failed.
func (ex *exchange) runRace(ctx context.Context, r *race, n *upstream.Node, c *jsonrpc.Call, need balancer.Need) *tryAnswer {
	p := ex.net.Hedge
	timer := time.NewTimer(p.Delay(n, c.Method))
	defer timer.Stop()
	timerC := timer.C
	var held *tryAnswer // a weak answer kept while the other try may do better
	for r.pending > 0 {
		select {
		case <-timerC:
			timerC = nil
			if ex.queued() {
				// A copy never takes a slot a waiting call could have.
				p.Count(hedge.NoNode)
				continue
			}
			m := ex.net.Pool.Pick(append(ex.tried[:len(ex.tried):len(ex.tried)], n), need)
			if m != nil && !ex.net.Pool.View().Eligible(m) {
				// Pick fails open to nodes that are down; a copy is not
				// worth a call there.
				ex.net.Sched.Release(m)
				m.EndTrial() // no call went: a half-open node waits for its trial
				m = nil
			}
			if m == nil {
				p.Count(hedge.NoNode)
				continue
			}
			cctx, span := ctx, trace.Span(nil)
			if ex.tr != nil {
				cctx, span = ex.startTry(ctx, m, ex.tries, true)
			}
			r.second = r.start(cctx, m)
			r.second.span = span
		case a := <-r.answers:
			r.pending--
			weak := a.err == nil && r.pending > 0 && ex.weak(a)
			if a.err != nil {
				continue
			}
			p.Observe(a.n, c.Method, a.took)
			if !weak {
				return a
			}
			held = a
		}
	}
	return held
}

// drainRace waits for the cancelled tries. One given up because the other
// answered is not a failure of its node, but its node was at least that
// slow: the time counts in its answer time.
func (ex *exchange) drainRace(ctx context.Context, r *race, method string) {
	for ; r.pending > 0; r.pending-- {
		a := <-r.answers
		var ue *upstream.Error
		if errors.As(a.err, &ue) && ue.Kind == upstream.KindCanceled && ctx.Err() == nil {
			ex.net.Hedge.Observe(a.n, method, a.took)
			a.n.ObserveAbandoned(a.took)
			a.err = errLost(a.n)
		}
	}
}

// settleRace settles the copy's try and tells the attempt loop what became
// of the call and of the first try.
func (ex *exchange) settleRace(ctx context.Context, r *race, winner *tryAnswer, answered error) error {
	outcome := func(a *tryAnswer) error {
		switch {
		case a == winner:
			return answered
		case a.err != nil:
			return a.err
		}
		return nil // a complete answer, not served: its node did well
	}
	primary := outcome(r.first)
	r.first.close()
	if r.second != nil {
		err := outcome(r.second)
		r.second.close()
		ex.settleHedge(ctx, r.second, err, r.second == winner)
	}
	switch {
	case winner == r.first, winner == nil && r.second == nil:
		return primary
	case winner == nil:
		answered = primary // both failed: the attempt loop goes on
	}
	hr := &hedgeResult{primary: primary, call: answered}
	if winner != nil {
		hr.by = winner.n
	}
	return hr
}

// errNotAnswered marks a race that produced no answer to serve.
var errNotAnswered = errors.New("no answer")

// settleHedge frees, judges and counts the copy's try.
func (ex *exchange) settleHedge(ctx context.Context, a *tryAnswer, err error, won bool) {
	if err != nil {
		err = budgetSpent(ctx, time.Now().Add(-a.took), ex.times.try, err)
	}
	ex.net.Sched.Release(a.n)
	ex.net.Health.Observe(a.n, err)
	ex.h.countTry(ex.net, a.n, err)
	if a.span != nil {
		endTry(a.span, err)
	}
	p := ex.net.Hedge
	var ue *upstream.Error
	switch {
	case won && err == nil:
		p.Count(hedge.Won)
	case err != nil && !(errors.As(err, &ue) && ue.Kind == upstream.KindCanceled):
		p.Count(hedge.Failed)
		ex.avoid = a.n
	default:
		p.Count(hedge.Lost)
	}
}

// weak reports whether a classified answer should wait for the other try:
// a null or empty result, a node error meaning "not on this node now", or
// an answer that is not JSON-RPC.
func (ex *exchange) weak(a *tryAnswer) bool {
	switch a.outcome {
	case jsonrpc.Result:
		return a.scan.ResultEmpty(a.prefix)
	case jsonrpc.NeedMore:
		return false
	case jsonrpc.Failure:
		full, err := readRest(a.resp.Body, a.prefix, int(ex.h.options().MaxAnswerBytes))
		if err != nil {
			a.err = upstream.ReadError(a.tctx, a.n.Name, err)
			return true
		}
		a.prefix = full
		e := jsonrpc.ErrorOf(full)
		return e != nil && upstream.Unavailable(e.Code, e.Message, a.n.Head() < ex.net.Pool.View().Head)
	}
	return !(len(bytes.TrimSpace(a.prefix)) == 0)
}

// queued reports whether calls of any class wait for a worker slot on the
// exchange's network.
func (ex *exchange) queued() bool {
	if ex.net.sizer == nil {
		return false
	}
	for cl := Class(0); cl < sched.NumClasses; cl++ {
		if ex.net.sizer.Queued(cl) > 0 {
			return true
		}
	}
	return false
}
