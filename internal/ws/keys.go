package ws

import (
	"context"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// A connection's caller is identified at the upgrade and checked again
// for every message and notification: a key removed by a reload, revoked
// through the admin API or expired, or a token past its exp, refuses the
// next call with the error HTTP gives (-32070 …), ends the connection's
// subscriptions and closes it with 1008 and the error as the reason.

// admit checks the connection's caller for one message and returns the
// context its calls carry. When the keys refuse the caller now, the
// message is answered with the refusal, the connection closed, and ok is
// false.
func (c *client) admit(body []byte) (ctx context.Context, ok bool) {
	ctx, e := c.recheck()
	if e == nil {
		return ctx, true
	}
	var id []byte // a single call's id, as the client waits on it; a batch gets one error, as over HTTP
	if calls, batch, perr := jsonrpc.Parse(body); perr == nil && !batch && len(calls) == 1 {
		id = calls[0].ID
	}
	c.refuse(e, e.AppendResponse(nil, id))
	return nil, false
}

// recheck checks the caller against the keys as they are now; it returns
// the context a call carries. It may run on the reader and on a hub's
// goroutine at once.
func (c *client) recheck() (context.Context, *jsonrpc.Error) {
	cur := c.keyed.Load()
	caller, e := c.s.h.Recheck(cur.caller, c.net)
	if e != nil {
		return nil, e
	}
	if caller == cur.caller {
		return cur.ctx, nil
	}
	// Built on the connection's own context, not on the last one, so
	// changes do not pile up contexts.
	next := &keyedCaller{caller: caller, ctx: access.WithCaller(c.callCtx, caller)}
	c.keyed.CompareAndSwap(cur, next)
	return next.ctx, nil
}

// refuse ends a connection whose caller the keys now refuse: its
// subscriptions end at once, answer (when not nil) is written, then the
// connection is closed with 1008 and the refusal as the reason.
func (c *client) refuse(e *jsonrpc.Error, answer []byte) {
	if !c.refused.CompareAndSwap(false, true) {
		return
	}
	c.endSubscriptions()
	f := &closeFrame{websocket.StatusPolicyViolation, closeReason(e.Message), "access_refused"}
	if answer == nil {
		c.close(f.code, f.reason, f.label)
		return
	}
	c.out.push(c.ctx, outgoing{data: answer, closing: f})
}

// closeReason fits s in a close frame's reason (at most 123 bytes).
func closeReason(s string) string {
	const most = 123
	if len(s) <= most {
		return s
	}
	cut := most - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
