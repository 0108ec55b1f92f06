package engine

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// maxFailover bounds the nodes tried for one single-node call.
const maxFailover = 3

// passthrough sends a call to the primary and, when it gives no answer, to
// the next best node (getBlobs*, getPayloadBodies*, unknown engine_* methods,
// eth_*). A JSON-RPC error is the method's answer and is not retried. budget,
// when set, bounds all attempts together (the spec's 1 s methods).
func (m *Mux) passthrough(ctx context.Context, c request, budget time.Duration) reply {
	if budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	body := encodeCall(m.callID.Add(1), c.Method, c.Params)
	for i, n := range m.ranked() {
		if i == maxFailover || ctx.Err() != nil {
			break
		}
		start := time.Now()
		resp, err := m.post(ctx, n, body, n.timeout)
		m.observe(n, "single", time.Since(start), err)
		if err == nil {
			return resp.asReply()
		}
		m.log.Debug("engine call failed over", "node", n.name, "method", c.Method, "err", err)
	}
	return errorReply(errNoNodes)
}

// ask sends the same call to every node of targets concurrently within the
// 1 s deadline and returns their outcomes in the same order.
func (m *Mux) ask(ctx context.Context, targets []*node, c request) []outcome {
	ctx, cancel := context.WithTimeout(ctx, m.dur.getPayload)
	defer cancel()
	body := encodeCall(m.callID.Add(1), c.Method, c.Params)
	out := make([]outcome, len(targets))
	var wg sync.WaitGroup
	for i, n := range targets {
		wg.Go(func() {
			start := time.Now()
			resp, err := m.post(ctx, n, body, m.dur.getPayload)
			out[i] = outcome{resp: resp, err: err, took: time.Since(start)}
			m.observe(n, "single", out[i].took, err)
		})
	}
	wg.Wait()
	return out
}

// capabilities answers engine_exchangeCapabilities with the methods every
// answering voting node supports, so the consensus client only uses methods
// that all of them serve. Each node gets the consensus client's own list
// (geth changes its blob cache when it sees engine_getBlobsV4 there).
func (m *Mux) capabilities(ctx context.Context, c request) reply {
	targets := m.voters()
	if len(targets) == 0 {
		targets = m.ranked()
	}
	var common []string
	answered := false
	results, firstErr := m.results(ctx, targets, c)
	for _, r := range results {
		var list []string
		if json.Unmarshal(r, &list) != nil {
			continue
		}
		if !answered {
			common, answered = list, true
			continue
		}
		common = slices.DeleteFunc(common, func(s string) bool { return !slices.Contains(list, s) })
	}
	switch {
	case answered:
		if common == nil {
			common = []string{}
		}
		b, _ := json.Marshal(common)
		return reply{result: b}
	case firstErr != nil:
		return firstErr.asReply()
	}
	return errorReply(errNoNodes)
}

// clientVersion answers engine_getClientVersionV* with the flat
// concatenation of every node's list, as identification.md requires of a
// multiplexer. Every node that is not dead is asked, do-not-use included: the
// consensus client is told about every client behind it.
func (m *Mux) clientVersion(ctx context.Context, c request) reply {
	var targets []*node
	for _, n := range m.nodeList() {
		if n.getState() != stateDead {
			targets = append(targets, n)
		}
	}
	flat := []json.RawMessage{}
	answered := false
	results, firstErr := m.results(ctx, targets, c)
	for _, r := range results {
		var list []json.RawMessage
		if json.Unmarshal(r, &list) != nil {
			continue
		}
		flat, answered = append(flat, list...), true
	}
	switch {
	case answered:
		b, _ := json.Marshal(flat)
		return reply{result: b}
	case firstErr != nil:
		return firstErr.asReply()
	}
	return errorReply(errNoNodes)
}

// results asks targets and returns the results of the nodes that answered
// with one, and the first JSON-RPC error answer (for when none did).
func (m *Mux) results(ctx context.Context, targets []*node, c request) ([]json.RawMessage, *response) {
	var out []json.RawMessage
	var firstErr *response
	for _, o := range m.ask(ctx, targets, c) {
		switch {
		case o.err != nil:
		case o.resp.failed():
			if firstErr == nil {
				firstErr = &o.resp
			}
		default:
			out = append(out, o.resp.Result)
		}
	}
	return out, firstErr
}

// voters returns the nodes that vote now, in configuration order.
func (m *Mux) voters() []*node {
	var out []*node
	for _, n := range m.nodeList() {
		if n.votes() {
			out = append(out, n)
		}
	}
	return out
}
