package ws

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/subs"
)

// Errors of subscriptions, in the form nodes use.
var (
	errSubNotFound = &jsonrpc.Error{Code: -32000, Message: "subscription not found"}
	errUnsubParams = jsonrpc.NewError(jsonrpc.CodeInvalidParams, `invalid params: eth_unsubscribe takes ["<subscription id>"]`)
)

func isSubscription(method string) bool {
	return method == "eth_subscribe" || method == "eth_unsubscribe"
}

// handle answers one client message. Calls take the HTTP path through the
// proxy (priority class, selection, retries, failover); subscriptions are
// served by the hub. ctx names the caller as the keys know it now.
func (c *client) handle(ctx context.Context, body []byte) {
	defer c.wg.Done()
	defer func() { <-c.calls }()
	calls, batch, perr := jsonrpc.Parse(body)
	if perr != nil {
		var id []byte // an invalid call's readable id is echoed: the client waits on it
		if !batch && len(calls) == 1 {
			id = calls[0].ID
		}
		c.send(perr.AppendResponse(nil, id))
		return
	}
	if !batch && isSubscription(calls[0].Method) {
		answer, sub := c.subscription(ctx, &calls[0])
		if answer != nil {
			c.sendThen(answer, sub.activate)
		}
		return
	}
	mixed := false
	for i := range calls {
		mixed = mixed || isSubscription(calls[i].Method)
	}
	if !mixed {
		if out := c.s.h.DoAs(ctx, c.network(), body, c.class, "", c.id); out != nil && c.ctx.Err() == nil {
			c.send(out)
		}
		return
	}
	c.mixedBatch(ctx, calls)
}

// network is the connection's network as served now: a configuration
// reload may have changed its settings (retries, timeouts) since the
// connection opened. The node pool, and so the subscriptions, stay the same.
func (c *client) network() *proxy.Network {
	if n := c.s.h.Network(c.net.Name); n != nil && n.Pool == c.net.Pool {
		return n
	}
	return c.net
}

// mixedBatch answers a batch holding subscription calls element by element.
func (c *client) mixedBatch(ctx context.Context, calls []jsonrpc.Call) {
	out := []byte{'['}
	var opened []*clientSub
	for i := range calls {
		var answer []byte
		switch call := &calls[i]; {
		case call.Err != nil:
			answer = call.Err.AppendResponse(nil, call.ID)
		case isSubscription(call.Method):
			var sub *clientSub
			answer, sub = c.subscription(ctx, call)
			opened = append(opened, sub)
		default:
			answer = c.s.h.DoAs(ctx, c.network(), call.Raw, c.class, "", c.id)
		}
		if answer == nil || calls[i].IsNotification() {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, answer...)
	}
	activate := func() {
		for _, sub := range opened {
			sub.activate()
		}
	}
	if len(out) > 1 {
		c.sendThen(append(out, ']'), activate)
	} else {
		activate()
	}
}

// subscription answers eth_subscribe or eth_unsubscribe. A new
// subscription is returned inactive: it starts once its answer is queued.
func (c *client) subscription(ctx context.Context, call *jsonrpc.Call) ([]byte, *clientSub) {
	if call.ID == nil {
		return nil, nil // a notification: no id to give the subscription to
	}
	if call.Method == "eth_unsubscribe" {
		return c.unsubscribe(call), nil
	}
	if e := c.s.h.Admit(ctx, c.network(), call.Method); e != nil {
		return e.AppendResponse(nil, call.ID), nil
	}
	if !c.reserve() {
		e := &jsonrpc.Error{Code: -32005, Message: "limit exceeded: this connection has " +
			strconv.Itoa(c.s.cfg.MaxSubscriptionsPerConnection) + " subscriptions (websocket.max_subscriptions_per_connection): unsubscribe first or open another connection"}
		return e.AppendResponse(nil, call.ID), nil
	}
	cs := &clientSub{c: c, id: newSubID()}
	params := call.Params
	if params == nil {
		params = []byte("[]")
	}
	sub, err := c.hub.Subscribe(c.ctx, params, cs)
	if err != nil {
		c.unreserve()
		return subscribeError(err, call.ID), nil
	}
	cs.sub = sub
	if !c.add(cs) {
		sub.Close()
		return nil, nil
	}
	out := append([]byte(`{"jsonrpc":"2.0","id":`), call.ID...)
	out = append(out, `,"result":"`...)
	out = append(out, cs.id...)
	return append(out, `"}`...), cs
}

func subscribeError(err error, id []byte) []byte {
	var ne *subs.NodeError
	if errors.As(err, &ne) {
		out := append([]byte(`{"jsonrpc":"2.0","id":`), id...)
		out = append(out, `,"error":`...)
		out = append(out, ne.Raw...)
		return append(out, '}')
	}
	var je *jsonrpc.Error
	if !errors.As(err, &je) {
		je = jsonrpc.NewError(jsonrpc.CodeInternal, err.Error())
	}
	return je.AppendResponse(nil, id)
}

func (c *client) unsubscribe(call *jsonrpc.Call) []byte {
	var ids []string
	if err := json.Unmarshal(call.Params, &ids); err != nil || len(ids) != 1 {
		return errUnsubParams.AppendResponse(nil, call.ID)
	}
	c.mu.Lock()
	cs := c.subs[ids[0]]
	delete(c.subs, ids[0])
	c.mu.Unlock()
	if cs == nil {
		return errSubNotFound.AppendResponse(nil, call.ID)
	}
	cs.sub.Close()
	return append(append([]byte(`{"jsonrpc":"2.0","id":`), call.ID...), `,"result":true}`...)
}

// reserve counts a subscription being opened against the limit.
func (c *client) reserve() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || len(c.subs)+c.reserved >= c.s.cfg.MaxSubscriptionsPerConnection {
		return false
	}
	c.reserved++
	return true
}

func (c *client) unreserve() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reserved--
}

// add turns a reservation into a subscription; false when the connection
// is closing.
func (c *client) add(cs *clientSub) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reserved--
	if c.closing {
		return false
	}
	c.subs[cs.id] = cs
	return true
}

// activate lets notifications through; it runs as the subscribe answer is
// queued, so no notification can be queued before the answer nor be lost
// after it.
func (cs *clientSub) activate() {
	if cs != nil {
		cs.active.Store(true)
	}
}
