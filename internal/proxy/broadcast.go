package proxy

import (
	"bytes"
	"context"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// maxBroadcasting bounds the copies in flight, all networks together: past
// it, copies are skipped (a node slow to answer them must not take every
// connection to it).
const maxBroadcasting = 256

// broadcastAnswer bounds what is read of a node's answer to a broadcast
// copy: a hash, or an error.
const broadcastAnswer = 64 << 10

// broadcast sends a transaction that by (a node) accepted to every other
// eligible node whose methods lists admit the call, so that it reaches
// their pools at once rather than through the network's gossip. Copies
// go in the background, after the client's answer: each takes a worker
// slot on its node if one is free now (a busy node, or one at its rate
// limit, is skipped: the transaction still spreads from the others; so are
// all while calls wait for workers, or maxBroadcasting copies are out), and
// waits at most rpc_timeout. Their answers are counted (a node skipped as
// "skipped"), never the client's.
func (ex *exchange) broadcast(c *jsonrpc.Call, body []byte, by *upstream.Node) {
	net := ex.net
	v := net.Pool.View()
	now := upstream.Now()
	busy := ex.queued() // calls wait for workers: copies do not take them
	var copied []byte
	for _, set := range [2][]*upstream.Node{v.Active, v.Backup} {
		for _, n := range set {
			if n == by || !n.Admits(c.Method) || n.Lacks(c.Method) {
				continue
			}
			if busy || ex.h.broadcasting.Load() >= maxBroadcasting || !n.TryAcquireCalls(now, 1) {
				ex.h.countBroadcast(net, "skipped") // busy, or at its rate limit
				continue
			}
			ex.h.broadcasting.Add(1)
			if copied == nil {
				copied = bytes.Clone(body) // the request's buffer is reused once answered
			}
			go ex.h.broadcastTo(net, n, copied)
		}
	}
}

// broadcastTo sends one copy to n, whose slot is held, and counts the outcome.
func (h *Handler) broadcastTo(net *Network, n *upstream.Node, body []byte) {
	ctx, cancel := n.TryContext(context.Background(), net.TryTimeoutOf("eth_sendRawTransaction"))
	out, err := n.CallLimit(ctx, body, broadcastAnswer)
	cancel()
	h.broadcasting.Add(-1)
	net.Sched.Release(n)
	net.Health.Observe(n, err)
	h.countTry(net, n, err)
	outcome := "accepted"
	switch e := jsonrpc.ErrorOf(out); {
	case err != nil:
		outcome = "failed"
	case e != nil && alreadyKnown(e.Message):
		outcome = "known"
	case e != nil:
		outcome = "refused"
	}
	h.countBroadcast(net, outcome)
}

func (h *Handler) countBroadcast(net *Network, outcome string) {
	if h.metrics != nil {
		h.metrics.TxBroadcasts.WithLabelValues(net.Name, outcome).Inc()
	}
}
