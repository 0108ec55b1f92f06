package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/upstream"
)

// readMessage reads the next message of c, holding at most u.limit bytes of
// it. A longer message is read past rather than held, and fails only what
// it answers: the call whose id it carries (its client asked for more than
// the gateway holds) or the subscription whose notification it is (which
// resubscribes and fills the gap). The connection goes on serving every
// other call. A long message that answers nothing known ends the
// connection, as no fault of the node's. A nil message with a nil error
// means that one was read past.
func (u *upstreamConn) readMessage(c *websocket.Conn) ([]byte, error) {
	_, r, err := c.Reader(u.ctx)
	if err != nil {
		return nil, err
	}
	msg, err := io.ReadAll(io.LimitReader(r, u.limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(msg)) <= u.limit {
		return msg, nil
	}
	if !u.tooLarge(msg) {
		return nil, &upstream.Error{Kind: upstream.KindRequest, Node: u.spec.Name,
			Err: fmt.Errorf("a message over %d bytes that answers no call in flight", u.limit)}
	}
	_, err = io.Copy(io.Discard, r)
	return nil, err
}

// tooLarge fails what the message whose first bytes are prefix answers,
// and reports whether it found it. Nodes write the id, and a
// notification's subscription id, before the result.
func (u *upstreamConn) tooLarge(prefix []byte) bool {
	i := skipSpace(prefix, 0)
	if i < len(prefix) && prefix[i] == '[' {
		i++ // a batch's answer goes to the call of its first id
	}
	if v := memberAt(prefix, i, "id"); v >= 0 {
		if end := skipValue(prefix, v); end >= 0 {
			if id, ok := parseID(prefix[v:end]); ok {
				u.fail(id, &upstream.Error{Kind: upstream.KindTooLarge, Node: u.spec.Name,
					Err: fmt.Errorf("%w of %d bytes", upstream.ErrAnswerTooLarge, u.limit)})
				return true
			}
		}
	}
	p := memberAt(prefix, i, "params")
	if p < 0 {
		return false
	}
	v := memberAt(prefix, p, "subscription")
	if v < 0 {
		return false
	}
	end := skipValue(prefix, v)
	if end < 0 {
		return false
	}
	u.mu.Lock()
	s := u.streams[string(prefix[v:end])]
	u.mu.Unlock()
	if s == nil {
		return false
	}
	s.End(fmt.Errorf("a notification of %s: %w of %d bytes", u.spec.Name, upstream.ErrAnswerTooLarge, u.limit))
	s.Close() // the feed subscribes again and fills the gap
	return true
}

// fail ends the call waiting for id with err (nothing when it was
// abandoned).
func (u *upstreamConn) fail(id uint64, err error) {
	u.mu.Lock()
	p := u.pending[id]
	if p != nil {
		for _, x := range p.ids {
			delete(u.pending, x)
		}
	}
	u.mu.Unlock()
	if p != nil {
		p.ch <- reply{err: err}
	}
}

// refusedSize is the size from which a message whose write fails is taken
// as refused for its size: nodes close a WebSocket over a message above
// their limit (geth: 32 MiB) while it is still being written. Below it, a
// failed write is the node's connection failing, unless the node's close
// says otherwise.
const refusedSize = 1 << 20

// closeReadWait bounds the wait, after a failed write, for the connection's
// reader to read why the node closed it. A variable for tests.
var closeReadWait = time.Second

// writeFailed drops c after a failed write of p's message of size bytes
// and returns the caller's error. A node closing its WebSocket over a
// message too large for it (1009) often resets the connection while the
// message is still being written: the write fails first, and the close is
// left for c's reader, which drops c on it. So a smaller message waits a
// little for that drop's verdict on p, and takes it when the close said
// why (refused for its size on a 1009); otherwise the write's error. A
// caller whose ctx ends meanwhile is not held: c is dropped at the wait's
// end as it would have been, and p, left in flight, takes its verdict.
func (u *upstreamConn) writeFailed(ctx context.Context, c *websocket.Conn, p *pending, size int, err error) error {
	if size >= refusedSize {
		refused := &upstream.Error{Kind: upstream.KindRequestTooLarge, Node: u.spec.Name,
			Err: fmt.Errorf("the node closed its websocket during a message of %d bytes, over its size limit: %w", size, err)}
		u.drop(c, refused)
		return refused
	}
	var verdict reply
	if p != nil {
		end := time.Now().Add(closeReadWait)
		wait := time.NewTimer(closeReadWait)
		defer wait.Stop()
		select {
		case verdict = <-p.ch:
		case <-wait.C:
			if !u.drop(c, fmt.Errorf("write: %w", err)) {
				verdict = <-p.ch // dropped meanwhile: that drop's verdict is on its way
			}
		case <-ctx.Done():
			time.AfterFunc(time.Until(end), func() { u.drop(c, fmt.Errorf("write: %w", err)) })
			return ctx.Err()
		}
	} else {
		u.drop(c, fmt.Errorf("write: %w", err))
	}
	var own *upstream.Error
	if errors.As(verdict.err, &own) {
		return verdict.err // the node's close said why
	}
	return fmt.Errorf("writing to websocket of %s: %w", u.spec.Name, err)
}

// lostError is what the calls in flight on a lost connection fail with. A
// connection the node closed over a message too large for it (close 1009)
// or one ended by a size limit of the gateway says nothing of the node's
// health: those calls are tried elsewhere and the node is not blamed.
func (u *upstreamConn) lostError(cause error) error {
	err := fmt.Errorf("websocket of %s lost: %w", u.spec.Name, cause)
	var own *upstream.Error
	if websocket.CloseStatus(cause) == websocket.StatusMessageTooBig || errors.As(cause, &own) && !own.NodeFault() {
		return &upstream.Error{Kind: upstream.KindRequest, Node: u.spec.Name, Err: err}
	}
	return err
}

// refusedCall returns the call in flight that a close 1009 (message too
// big) refused, and its error: KindRequestTooLarge, as an HTTP 413. It is
// the largest: the node reads messages in the order they were written and
// closes at the first over its limit, so the largest in flight is at least
// that large. Nil when cause is not a 1009.
func (u *upstreamConn) refusedCall(cause error, pend map[uint64]*pending) (*pending, error) {
	if websocket.CloseStatus(cause) != websocket.StatusMessageTooBig {
		return nil, nil
	}
	var largest *pending
	for _, p := range pend {
		if largest == nil || p.size > largest.size {
			largest = p
		}
	}
	if largest == nil {
		return nil, nil
	}
	return largest, &upstream.Error{Kind: upstream.KindRequestTooLarge, Node: u.spec.Name,
		Err: fmt.Errorf("the node closed its websocket (1009, message too big) over a message of %d bytes", largest.size)}
}

// memberAt returns where the value of the top-level member key of the
// object at b[i] starts, reading past the members before it; -1 when b
// ends first or the object has no such member.
func memberAt(b []byte, i int, key string) int {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return -1
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		ke := skipString(b, i)
		if ke < 0 {
			return -1
		}
		k := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		v := skipSpace(b, i+1)
		if string(k) == key {
			return v
		}
		ve := skipValue(b, v)
		if ve < 0 {
			return -1
		}
		i = skipSpace(b, ve)
		if i >= len(b) || b[i] != ',' {
			return -1
		}
		i = skipSpace(b, i+1)
	}
	return -1
}
