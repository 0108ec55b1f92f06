package ws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/subs"
)

// client is one client WebSocket connection. Its goroutine (the HTTP
// handler's) reads; one writer goroutine writes everything, answers and
// notifications, in the order they were queued, so writes never interleave.
type client struct {
	s     *Server
	ws    *websocket.Conn
	net   *proxy.Network
	hub   *subs.Hub
	class proxy.Class
	// id names the client for consistent reads: the upgrade request's
	// X-Client-ID, else the connection itself.
	id     string
	ctx    context.Context // ends when the connection closes: cancels its calls
	cancel context.CancelFunc
	// callCtx is ctx for the calls, which the end of a shutdown's grace
	// ends too (proxy.Handler.Stoppable): they are then answered -32056
	// before the close frame.
	callCtx    context.Context
	callCancel context.CancelFunc
	// readCtx ends only to force the connection shut when the peer does
	// not answer a close frame.
	readCtx    context.Context
	readCancel context.CancelFunc
	out        *outQueue      // bounded: overflowing it is the slow-consumer cut-off
	stop       chan struct{}  // closed to stop the writer
	calls      chan struct{}  // one token per call being answered
	wg         sync.WaitGroup // writer, calls, pings, closer

	mu       sync.Mutex // protects subs, reserved, closing
	subs     map[string]*clientSub
	reserved int // subscriptions being opened
	closing  bool

	closeOnce sync.Once
	pinging   atomic.Bool
	writing   atomic.Bool // a write to the client is under way

	// keyed is the caller as last checked against the keys, and the
	// context its calls carry; refused is set once the keys refuse it.
	keyed   atomic.Pointer[keyedCaller]
	refused atomic.Bool
}

// keyedCaller is a connection's caller and the context that names it.
type keyedCaller struct {
	caller *access.Caller
	ctx    context.Context
}

// outgoing is a message to write: an answer, or a notification composed
// at write time from the shared result and the subscriber's id.
type outgoing struct {
	data    []byte
	sub     *clientSub
	result  []byte
	closing *closeFrame // close the connection once data is written
}

type closeFrame struct {
	code   websocket.StatusCode
	reason string
	label  string // metrics reason
}

// newClient's calls carry parent's values (not its cancellation): the
// upgrade request's context may ask for the nodes' WebSockets.
func newClient(parent context.Context, s *Server, conn *websocket.Conn, n *proxy.Network, hub *subs.Hub, class proxy.Class) *client {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	callCtx, callCancel := s.h.Stoppable(ctx)
	readCtx, readCancel := context.WithCancel(context.Background())
	conn.SetReadLimit(s.cfg.MaxMessageBytes + 1) // the reader enforces the limit itself, to answer it
	c := &client{s: s, ws: conn, net: n, hub: hub, class: class, ctx: ctx, cancel: cancel, callCtx: callCtx, callCancel: callCancel,
		readCtx: readCtx, readCancel: readCancel,
		out: newOutQueue(s.cfg.SubscriberBuffer, s.cfg.SubscriberBufferBytes), stop: make(chan struct{}),
		calls: make(chan struct{}, s.cfg.MaxCallsPerConnection), subs: make(map[string]*clientSub)}
	c.keyed.Store(&keyedCaller{caller: access.CallerFrom(ctx), ctx: callCtx}) // calls run on callCtx: a shutdown answers them
	return c
}

// serve runs the connection until it closes and everything it started ends.
func (c *client) serve() {
	c.wg.Add(1)
	go c.write()
	if !c.read() {
		if c.writing.Load() {
			// A write that times out closes the connection, and the reader
			// may see that first: the writer knows why, so let it say.
			t := time.NewTimer(c.s.cfg.WriteTimeout.D() + closeWait)
			select {
			case <-c.stop:
			case <-t.C:
			}
			t.Stop()
		}
		c.close(websocket.StatusNormalClosure, "", "client")
	}
	c.wg.Wait()
}

// read reads messages and starts answering each one. It reports whether
// it arranged the close itself.
//
// While the answers and notifications waiting for the client are over
// websocket.subscriber_buffer_bytes, the next message is not read: a
// client that sends calls faster than it reads their answers holds the
// bytes of a bounded queue and of the calls in flight, never more, and
// the node is not asked what the client does not take. A client that
// does not read at all is cut off by the write timeout.
func (c *client) read() bool {
	limit := c.s.cfg.MaxMessageBytes
	for {
		if !c.out.waitDrained(c.ctx) {
			return false
		}
		_, r, err := c.ws.Reader(c.readCtx) // closing the connection unblocks it
		if err != nil {
			return false
		}
		body, err := io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			return false
		}
		if int64(len(body)) > limit {
			// Answer, then close: the writer does both, in that order.
			c.out.push(c.ctx, outgoing{data: errTooLarge.AppendResponse(nil, nil), closing: &closeFrame{
				websocket.StatusMessageTooBig, "message over websocket.max_message_bytes", "message_too_big"}})
			return true
		}
		c.s.m.messages.WithLabelValues(c.net.Name).Inc()
		ctx, ok := c.admit(body)
		if !ok {
			return true
		}
		select {
		case c.calls <- struct{}{}:
		case <-c.ctx.Done():
			return false
		}
		c.wg.Add(1)
		go c.handle(ctx, body)
	}
}

var errTooLarge = jsonrpc.NewError(jsonrpc.CodeTooLarge, "message is over websocket.max_message_bytes: split it or use HTTP")

// write writes queued messages until stopped; it also pings.
func (c *client) write() {
	defer c.wg.Done()
	ping := time.NewTicker(c.s.cfg.PingInterval.D())
	defer ping.Stop()
	written := c.s.m.written.WithLabelValues(c.net.Name)
	var buf []byte
	for {
		select {
		case <-c.stop:
			return
		case <-ping.C:
			c.ping()
			continue
		case <-c.out.ready:
		}
		for m, ok := c.out.pop(); ok; m, ok = c.out.pop() {
			if !c.writeOne(m, &buf) {
				return
			}
			written.Inc()
			select {
			case <-c.stop:
				return
			default:
			}
		}
	}
}

// writeOne writes m; false when the connection is done.
func (c *client) writeOne(m outgoing, buf *[]byte) bool {
	msg := m.data
	if m.sub != nil {
		*buf = appendNotification((*buf)[:0], m.sub.id, m.result)
		msg = *buf
	}
	if msg != nil { // nil: a close frame alone
		ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout.D())
		c.writing.Store(true)
		err := c.ws.Write(ctx, websocket.MessageText, msg)
		c.writing.Store(false)
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if cap(*buf) > 64<<10 {
			*buf = nil // keep no large buffer on an idle connection
		}
		switch {
		case err != nil && timedOut:
			c.close(websocket.StatusPolicyViolation, "write timed out: the client does not read", "write_failed")
			return false
		case err != nil:
			c.close(websocket.StatusNormalClosure, "", "client") // the connection was closed under the write
			return false
		}
	}
	if f := m.closing; f != nil {
		c.close(f.code, f.reason, f.label)
		return false
	}
	return true
}

// appendNotification writes an eth_subscription message as a node does.
func appendNotification(b []byte, id string, result []byte) []byte {
	b = append(b, `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"`...)
	b = append(b, id...)
	b = append(b, `","result":`...)
	b = append(b, result...)
	return append(b, "}}"...)
}

// ping checks the client still answers; one ping at a time.
func (c *client) ping() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.pinging.Store(false)
		ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.PingInterval.D())
		defer cancel()
		if err := c.ws.Ping(ctx); err != nil && c.ctx.Err() == nil {
			c.close(closeNow, "", "ping_timeout") // the peer is gone: no close handshake to wait for
		}
	}()
}

// send queues an answer, waiting while the queue is full.
func (c *client) send(data []byte) {
	c.out.push(c.ctx, outgoing{data: data})
}

// sendThen is send, calling then as the answer is queued.
func (c *client) sendThen(data []byte, then func()) {
	c.out.pushThen(c.ctx, outgoing{data: data}, then)
}

// notify queues a notification without waiting: a full queue means the
// client does not keep up, and it is cut off.
func (c *client) notify(cs *clientSub, result []byte) {
	if !c.out.tryNotify(outgoing{sub: cs, result: result}) {
		c.close(websocket.StatusPolicyViolation, "client too slow: more than websocket.subscriber_buffer messages or subscriber_buffer_bytes waiting", "slow_consumer")
	}
}

// closeNow closes without a close handshake.
const closeNow websocket.StatusCode = -1

// closeWait is how long a close handshake may take.
const closeWait = time.Second

// close ends the connection once: subscriptions are closed, calls in
// flight canceled, the writer stopped and a close frame sent (unless code
// is closeNow).
func (c *client) close(code websocket.StatusCode, reason, label string) {
	c.closeOnce.Do(func() {
		c.s.m.disconnects.WithLabelValues(c.net.Name, label).Inc()
		c.endSubscriptions()
		close(c.stop)
		c.cancel() // aborts a write blocked on a client that does not read
		c.callCancel()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer c.readCancel()
			if code == closeNow {
				_ = c.ws.CloseNow()
				return
			}
			// A peer that does not answer the close frame soon is not waited for.
			t := time.AfterFunc(closeWait, c.readCancel)
			defer t.Stop()
			_ = c.ws.Close(code, reason) // closes the connection even when the handshake fails
		}()
	})
}

// endSubscriptions closes the connection's subscriptions and opens no
// more.
func (c *client) endSubscriptions() {
	c.mu.Lock()
	c.closing = true
	list := c.subs
	c.subs = nil
	c.mu.Unlock()
	for _, cs := range list {
		cs.sub.Close()
	}
}

// clientSub is one subscription of the client; it is the hub's sink.
type clientSub struct {
	c      *client
	id     string
	sub    *subs.Subscription
	active atomic.Bool // set once the subscribe answer is queued
}

// Deliver implements subs.Sink. Nothing is queued before the answer that
// gives the client the subscription id.
// A notification checks the connection's key as a call does: a key
// removed, revoked or expired ends the subscriptions and the connection.
func (cs *clientSub) Deliver(result []byte) {
	c := cs.c
	if !cs.active.Load() || c.refused.Load() {
		return
	}
	if _, e := c.recheck(); e != nil {
		c.refuse(e, nil)
		return
	}
	c.notify(cs, result)
}

// newSubID returns a subscription id in the form nodes use: 0x and 32 hex digits.
func newSubID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "0x" + hex.EncodeToString(b[:])
}

var _ subs.Sink = (*clientSub)(nil)
