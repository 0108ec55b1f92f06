package ws

import (
	"errors"
	"fmt"
	"io"

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
// failed write is the node's connection failing.
const refusedSize = 1 << 20

// writeFailed drops c after a failed write of a message of size bytes and
// returns the caller's error.
func (u *upstreamConn) writeFailed(c *websocket.Conn, size int, err error) error {
	if size < refusedSize {
		u.drop(c, fmt.Errorf("write: %w", err))
		return fmt.Errorf("writing to websocket of %s: %w", u.spec.Name, err)
	}
	refused := &upstream.Error{Kind: upstream.KindRequest, Node: u.spec.Name,
		Err: fmt.Errorf("the node closed its websocket during a message of %d bytes, over its size limit: %w", size, err)}
	u.drop(c, refused)
	return refused
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
