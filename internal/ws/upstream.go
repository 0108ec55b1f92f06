package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/subs"
	"github.com/evmgate/evmgate/internal/upstream"
)

const (
	// dialTimeout bounds opening a node's WebSocket.
	dialTimeout = 5 * time.Second
	// upstreamWriteTimeout bounds one write to a node.
	upstreamWriteTimeout = 10 * time.Second
	// maxDialBackoff caps the wait between failed dials.
	maxDialBackoff = 5 * time.Second
)

// errUpstreamClosed is returned after Close.
var errUpstreamClosed = errors.New("websocket client closed")

// upstreamConn is the one WebSocket connection to a node that every call
// and every subscription to that node shares. Requests carry the gateway's
// own ids so answers are matched to callers whatever the clients' ids are.
// A lost connection fails the calls in flight (the proxy retries them on
// another node) and ends the subscriptions (their feeds move); the next
// use dials again, no sooner than the backoff after a failed dial.
type upstreamConn struct {
	spec   upstream.Spec
	client *http.Client // nil: the default; attested nodes verify every dial
	ping   time.Duration
	log    *slog.Logger
	m      *metrics
	limit  int64           // the largest message held (upstream.MaxAnswer)
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // readers, pingers, unsubscribes
	nextID atomic.Uint64

	mu      sync.Mutex // protects every field below
	conn    *websocket.Conn
	gone    chan struct{} // closed when conn is dropped
	pending map[uint64]*pending
	streams map[string]*upSub // by the node's subscription id, raw JSON
	dialing chan struct{}     // closed when the running dial ends
	retryAt time.Time
	backoff time.Duration
	lastErr error
	closed  bool
}

// pending is a call waiting for its answer.
type pending struct {
	ch   chan reply // buffered: the reader never waits
	ids  []uint64
	sub  *upSub // for eth_subscribe
	size int    // of the request, in bytes
}

type reply struct {
	msg []byte
	err error
}

func newUpstreamConn(spec upstream.Spec, ping time.Duration, log *slog.Logger, m *metrics) *upstreamConn {
	ctx, cancel := context.WithCancel(context.Background())
	u := &upstreamConn{spec: spec, ping: ping, log: log.With("network", spec.Network, "node", spec.Name), m: m,
		limit: upstream.MaxAnswer, ctx: ctx, cancel: cancel, pending: make(map[uint64]*pending), streams: make(map[string]*upSub)}
	if spec.Attest != nil {
		// The upgrade's TLS handshake checks the node's attestation before
		// the request is written.
		u.client = &http.Client{Transport: upstream.AttestedTransport(spec, false)}
	}
	return u
}

// get returns the open connection, dialing when there is none.
func (u *upstreamConn) get(ctx context.Context) (*websocket.Conn, error) {
	for {
		u.mu.Lock()
		switch {
		case u.closed:
			u.mu.Unlock()
			return nil, errUpstreamClosed
		case u.conn != nil:
			c := u.conn
			u.mu.Unlock()
			return c, nil
		case time.Now().Before(u.retryAt):
			err := u.lastErr
			u.mu.Unlock()
			return nil, err
		case u.dialing != nil:
			ch := u.dialing
			u.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		u.dialing = ch
		u.mu.Unlock()
		c, err := u.dial()
		u.connected(c, err)
		close(ch)
		if err != nil {
			return nil, err
		}
	}
}

func (u *upstreamConn) dial() (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(u.ctx, dialTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u.spec.WSURL, &websocket.DialOptions{
		HTTPClient: u.client, HTTPHeader: u.spec.Headers.Clone(), CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		err = nodeurl.Cause(err) // its URL may carry the node's API key
		return nil, fmt.Errorf("opening websocket of %s: %w", u.spec.Name, err)
	}
	c.SetReadLimit(-1) // read enforces u.limit, failing only the call whose answer is over it
	return c, nil
}

// connected records a dial's outcome and starts the connection's reader
// and pinger.
func (u *upstreamConn) connected(c *websocket.Conn, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.dialing = nil
	if err != nil {
		u.backoff = min(max(2*u.backoff, 100*time.Millisecond), maxDialBackoff)
		u.retryAt, u.lastErr = time.Now().Add(u.backoff), err
		u.m.dial(u.spec, "error")
		u.log.Warn("node websocket unavailable", "err", err, "retry_in", u.backoff)
		return
	}
	if u.closed {
		c.CloseNow()
		return
	}
	u.m.dial(u.spec, "ok")
	u.m.upstreamUp(u.spec, 1)
	u.backoff, u.lastErr = 0, nil
	u.conn, u.gone = c, make(chan struct{})
	u.wg.Add(2)
	go u.read(c)
	go u.keepAlive(c, u.gone)
}

// read routes every message of c until it fails.
func (u *upstreamConn) read(c *websocket.Conn) {
	defer u.wg.Done()
	for {
		msg, err := u.readMessage(c)
		if err != nil {
			u.drop(c, err)
			return
		}
		if msg != nil {
			u.route(msg)
		}
	}
}

// keepAlive pings c; a ping without pong drops it.
func (u *upstreamConn) keepAlive(c *websocket.Conn, gone chan struct{}) {
	defer u.wg.Done()
	t := time.NewTicker(u.ping)
	defer t.Stop()
	for {
		select {
		case <-gone:
			return
		case <-u.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(u.ctx, u.ping)
		err := c.Ping(ctx)
		cancel()
		if err != nil {
			u.drop(c, fmt.Errorf("ping: %w", err))
			return
		}
	}
}

// drop forgets c: its calls in flight fail and its subscriptions end.
// A close 1009 (message too big) refuses one of the calls for its size.
// It reports whether it dropped c (false: c was dropped before).
func (u *upstreamConn) drop(c *websocket.Conn, cause error) bool {
	u.mu.Lock()
	if u.conn != c {
		u.mu.Unlock()
		return false
	}
	u.conn = nil
	close(u.gone)
	pend, streams := u.pending, u.streams
	u.pending, u.streams = make(map[uint64]*pending), make(map[string]*upSub)
	u.mu.Unlock()
	c.CloseNow()
	u.m.upstreamUp(u.spec, -1)
	err := u.lostError(cause)
	refused, refusedErr := u.refusedCall(cause, pend)
	if u.ctx.Err() == nil {
		u.log.Warn("node websocket lost", "err", cause, "calls", len(pend), "subscriptions", len(streams))
	}
	for _, p := range pend {
		e := err
		if p == refused {
			e = refusedErr
		}
		select {
		case p.ch <- reply{err: e}:
		default: // a batch is in the map once per id
		}
	}
	for _, s := range streams {
		s.End(err)
	}
	return true
}

// route hands a message to its caller or its subscription.
func (u *upstreamConn) route(msg []byte) {
	i := skipSpace(msg, 0)
	if i < len(msg) && msg[i] == '[' {
		u.routeBatch(msg)
		return
	}
	var m message
	if scanObject(msg, i, &m) < 0 {
		u.log.Debug("dropping malformed message from node", "size", len(msg))
		return
	}
	if !m.id.ok() && m.params.ok() {
		sub, res := notification(msg, m.params)
		if !sub.ok() || !res.ok() {
			return
		}
		u.mu.Lock()
		s := u.streams[string(sub.of(msg))]
		u.mu.Unlock()
		if s != nil && !s.Push(res.of(msg)) {
			s.Close() // its feed fell behind: it resubscribes and fills the gap
		}
		return
	}
	if id, ok := parseID(m.id.of(msg)); ok {
		u.answer(id, msg, m.result.of(msg))
	}
}

func (u *upstreamConn) routeBatch(msg []byte) {
	var first uint64
	found := false
	eachElement(msg, func(start int) int {
		var m message
		end := scanObject(msg, start, &m)
		if id, ok := parseID(m.id.of(msg)); ok && !found {
			first, found = id, true
		}
		return end
	})
	if found {
		u.answer(first, msg, nil)
	}
}

// answer delivers msg to the call waiting for id. A subscription is
// registered here, before the next message is read, so that none of its
// notifications is missed.
func (u *upstreamConn) answer(id uint64, msg, result []byte) {
	u.mu.Lock()
	p := u.pending[id]
	if p == nil {
		u.mu.Unlock()
		return // an abandoned call, or an unsubscribe
	}
	for _, x := range p.ids {
		delete(u.pending, x)
	}
	var late *upSub
	if p.sub != nil && result != nil {
		if p.sub.closed {
			late = p.sub
		} else {
			p.sub.id = string(result)
			u.streams[p.sub.id] = p.sub
		}
	}
	c := u.conn
	u.mu.Unlock()
	if late != nil && c != nil {
		u.unsubscribe(c, string(result))
	}
	p.ch <- reply{msg: msg}
}

// forget removes an abandoned call.
func (u *upstreamConn) forget(p *pending) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range p.ids {
		if u.pending[x] == p {
			delete(u.pending, x)
		}
	}
}

// Close drops the connection and waits for its goroutines.
func (u *upstreamConn) Close() {
	u.mu.Lock()
	u.closed = true
	c := u.conn
	u.mu.Unlock()
	u.cancel()
	if c != nil {
		u.drop(c, errUpstreamClosed)
	}
	u.wg.Wait()
	if u.client != nil {
		u.client.CloseIdleConnections()
	}
}

var _ subs.Stream = (*upSub)(nil)
