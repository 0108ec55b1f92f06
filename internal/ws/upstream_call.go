package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/subs"
	"github.com/evmgate/evmgate/internal/upstream"
)

// Call sends a JSON-RPC body (one call or a batch) over the shared
// connection and returns the node's answer with the client's ids restored,
// or nil when every call is a notification. A lost connection is an error:
// the caller retries elsewhere.
func (u *upstreamConn) Call(ctx context.Context, body []byte) ([]byte, error) {
	req, ids, clientIDs, batch, err := u.rewrite(body)
	if err != nil {
		return nil, &upstream.Error{Kind: upstream.KindRequest, Node: u.spec.Name, Err: err}
	}
	if len(ids) == 0 {
		return nil, u.write(ctx, req, nil)
	}
	p := &pending{ch: make(chan reply, 1), ids: ids, size: len(req)}
	if err := u.write(ctx, req, p); err != nil {
		return nil, err
	}
	select {
	case r := <-p.ch:
		if r.err != nil {
			return nil, r.err
		}
		return restore(r.msg, ids, clientIDs, batch), nil
	case <-ctx.Done():
		u.forget(p)
		return nil, ctx.Err()
	}
}

// write registers p (when not nil) and sends req on the connection.
func (u *upstreamConn) write(ctx context.Context, req []byte, p *pending) error {
	for {
		c, err := u.get(ctx)
		if err != nil {
			return err
		}
		u.mu.Lock()
		if u.conn != c {
			u.mu.Unlock()
			continue // dropped meanwhile
		}
		if p != nil {
			for _, id := range p.ids {
				u.pending[id] = p
			}
		}
		u.mu.Unlock()
		// The write is bounded on its own: a caller giving up halfway would
		// otherwise close the connection every other caller shares.
		wctx, cancel := context.WithTimeout(u.ctx, upstreamWriteTimeout)
		err = c.Write(wctx, websocket.MessageText, req)
		cancel()
		if err != nil {
			return u.writeFailed(ctx, c, p, len(req), err)
		}
		return nil
	}
}

var errNotJSONRPC = errors.New("request is not a JSON-RPC call or batch")

// rewrite gives every call with an id a fresh gateway id: ids[k] replaces
// clientIDs[k].
func (u *upstreamConn) rewrite(body []byte) (req []byte, ids []uint64, clientIDs [][]byte, batch bool, err error) {
	var spans []span
	collect := func(start int) int {
		var m message
		end := scanObject(body, start, &m)
		if m.id.ok() {
			spans = append(spans, m.id)
		}
		return end
	}
	i := skipSpace(body, 0)
	batch = i < len(body) && body[i] == '['
	if batch && !eachElement(body, collect) || !batch && collect(i) < 0 {
		return nil, nil, nil, batch, errNotJSONRPC
	}
	if len(spans) == 0 {
		return body, nil, nil, batch, nil
	}
	base := u.nextID.Add(uint64(len(spans))) - uint64(len(spans)) + 1
	req = make([]byte, 0, len(body)+8*len(spans))
	prev := 0
	for k, sp := range spans {
		req = append(req, body[prev:sp.start]...)
		req = strconv.AppendUint(req, base+uint64(k), 10)
		ids = append(ids, base+uint64(k))
		clientIDs = append(clientIDs, sp.of(body))
		prev = sp.end
	}
	return append(req, body[prev:]...), ids, clientIDs, batch, nil
}

// restore puts the clients' ids back into the node's answer.
func restore(msg []byte, ids []uint64, clientIDs [][]byte, batch bool) []byte {
	out := make([]byte, 0, len(msg)+16*len(ids))
	prev := 0
	swap := func(start int) int {
		var m message
		end := scanObject(msg, start, &m)
		if gid, ok := parseID(m.id.of(msg)); ok && gid >= ids[0] && gid-ids[0] < uint64(len(ids)) {
			out = append(out, msg[prev:m.id.start]...)
			out = append(out, clientIDs[gid-ids[0]]...)
			prev = m.id.end
		}
		return end
	}
	if batch {
		eachElement(msg, swap)
	} else {
		swap(skipSpace(msg, 0))
	}
	return append(out, msg[prev:]...)
}

// Subscribe sends eth_subscribe(params) and returns the stream of its
// notifications.
func (u *upstreamConn) Subscribe(ctx context.Context, params []byte) (subs.Stream, error) {
	id := u.nextID.Add(1)
	req := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_subscribe","params":%s}`, id, params)
	s := &upSub{Endable: subs.NewEndable(streamBuffer), u: u}
	p := &pending{ch: make(chan reply, 1), ids: []uint64{id}, sub: s, size: len(req)}
	if err := u.write(ctx, req, p); err != nil {
		return nil, err
	}
	select {
	case r := <-p.ch:
		if r.err != nil {
			return nil, r.err
		}
		var m message
		scanObject(r.msg, 0, &m)
		if m.err.ok() {
			return nil, nodeError(u.spec.Name, m.err.of(r.msg))
		}
		if !m.result.ok() {
			return nil, fmt.Errorf("eth_subscribe answer of %s has no result", u.spec.Name)
		}
		return s, nil
	case <-ctx.Done():
		u.forget(p)
		s.Close()
		return nil, ctx.Err()
	}
}

// streamBuffer is the room for notifications between the connection's
// reader and a feed.
const streamBuffer = 1024

func nodeError(node string, raw []byte) *subs.NodeError {
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(raw, &e)
	return &subs.NodeError{Node: node, Code: e.Code, Msg: e.Message, Raw: bytes.Clone(raw)}
}

// upSub is one subscription on a node's connection.
type upSub struct {
	*subs.Endable
	u      *upstreamConn
	id     string // the node's subscription id, raw JSON; guarded by u.mu
	closed bool   // guarded by u.mu
}

var errUnsubscribed = errors.New("unsubscribed")

// Close unsubscribes on the node (in the background) and ends the stream.
func (s *upSub) Close() {
	u := s.u
	u.mu.Lock()
	s.closed = true
	id := s.id
	if id != "" && u.streams[id] == s {
		delete(u.streams, id)
	} else {
		id = ""
	}
	c := u.conn
	u.mu.Unlock()
	s.End(errUnsubscribed)
	if id != "" && c != nil {
		u.unsubscribe(c, id)
	}
}

// unsubscribe sends eth_unsubscribe without waiting for the answer.
func (u *upstreamConn) unsubscribe(c *websocket.Conn, id string) {
	req := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":"eth_unsubscribe","params":[%s]}`, u.nextID.Add(1), id)
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		ctx, cancel := context.WithTimeout(u.ctx, upstreamWriteTimeout)
		defer cancel()
		_ = c.Write(ctx, websocket.MessageText, req) // a lost connection ends the subscription anyway
	}()
}

// RoundTrip carries an HTTP JSON-RPC request over the node's WebSocket, so
// a node's HTTP client can use it as its transport.
func (u *upstreamConn) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	out, err := u.Call(req.Context(), body)
	if err != nil {
		return nil, err
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(out)),
		ContentLength: int64(len(out)), Request: req,
	}, nil
}

var _ http.RoundTripper = (*upstreamConn)(nil)
