package proxy

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/evmgate/evmgate/internal/hedge"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// hedgeResult is what a hedged try tells the attempt loop: primary is the
// first try's own outcome, on which its node is judged; call is the call's
// (nil: answered, by either try).
type hedgeResult struct {
	primary error
	call    error
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

// race is a hedged call's tries (at most two).
type race struct {
	timeout time.Duration // per try
	limit   int           // bytes held of an answer
	body    []byte
	answers chan *tryAnswer
	pending int
}

// start opens a try on n in its own goroutine; its answer comes on
// r.answers.
func (r *race) start(ctx context.Context, n *upstream.Node) *tryAnswer {
	a := &tryAnswer{}
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
func (ex *exchange) tryHedged(ctx context.Context, n *upstream.Node, c *jsonrpc.Call, body []byte, minHead uint64) error {
	p := ex.net.Hedge
	r := &race{timeout: ex.net.TryTimeout, limit: int(ex.h.options().MaxAnswerBytes), body: body, answers: make(chan *tryAnswer, 2)}
	first := r.start(ctx, n)
	var second, winner, held *tryAnswer
	timer := time.NewTimer(p.Delay(n, c.Method))
	defer timer.Stop()
	timerC := timer.C
	for r.pending > 0 && winner == nil {
		select {
		case <-timerC:
			timerC = nil
			m := ex.net.Pool.Pick([]*upstream.Node{n}, minHead)
			if m == nil {
				p.Count(hedge.NoNode)
				continue
			}
			second = r.start(ctx, m)
		case a := <-r.answers:
			r.pending--
			weak := a.err == nil && r.pending > 0 && ex.weak(a)
			switch {
			case a.err != nil:
			case weak:
				held = a // a better answer may still come from the other try
			default:
				winner = a
			}
			if a.err == nil {
				p.Observe(a.n, c.Method, a.took)
			}
		}
	}
	if winner == nil {
		winner = held
	}
	for _, a := range []*tryAnswer{first, second} {
		if a != nil && a != winner {
			a.stop()
		}
	}
	// The winner is served first; the cancelled loser is waited for after.
	var answered error = errNotAnswered
	if winner != nil {
		answered = ex.finish(winner, c, false)
		if winner != first {
			ex.node = winner.n.Name
		}
	}
	for ; r.pending > 0; r.pending-- {
		a := <-r.answers // a cancelled loser: its slot is freed below
		var ue *upstream.Error
		if errors.As(a.err, &ue) && ue.Kind == upstream.KindCanceled && ctx.Err() == nil {
			// Given up, not failed: it was at least this slow.
			p.Observe(a.n, c.Method, a.took)
			a.n.ObserveAbandoned(a.took)
			a.err = errLost(a.n)
		}
	}
	outcome := func(a *tryAnswer) error {
		switch {
		case a == winner:
			return answered
		case a.err != nil:
			return a.err
		}
		return nil // a complete answer, not served: its node did well
	}
	primary := outcome(first)
	if second != nil {
		ex.settleHedge(ctx, second, outcome(second), second == winner)
	}
	first.close()
	if second != nil {
		second.close()
	}
	if winner == first || (winner == nil && second == nil) {
		return primary
	}
	if winner == nil {
		answered = primary // both failed: the attempt loop goes on
	}
	return &hedgeResult{primary: primary, call: answered}
}

// errNotAnswered marks a race that produced no answer to serve.
var errNotAnswered = errors.New("no answer")

// settleHedge frees, judges and counts the copy's try.
func (ex *exchange) settleHedge(ctx context.Context, a *tryAnswer, err error, won bool) {
	if err != nil {
		err = budgetSpent(ctx, time.Now().Add(-a.took), ex.net.TryTimeout, err)
	}
	ex.net.Sched.Release(a.n)
	ex.net.Health.Observe(a.n, err)
	ex.h.countTry(ex.net, a.n, err)
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
