package subs

import (
	"context"
	"errors"
	"sync"

	"github.com/evmgate/evmgate/internal/upstream"
)

// ErrNoWebSocket is returned by a Streamer for a node without a WebSocket
// endpoint.
var ErrNoWebSocket = errors.New("node has no ws_endpoint")

// Streamer opens upstream subscriptions (package ws implements it over each
// node's shared WebSocket connection).
type Streamer interface {
	// Subscribe sends eth_subscribe with params (the raw params array) to n.
	// ctx bounds the call only; the stream lives until Close or until the
	// connection to the node is lost. A node's JSON-RPC error comes back as
	// *NodeError; a node without WebSocket as ErrNoWebSocket.
	Subscribe(ctx context.Context, n *upstream.Node, params []byte) (Stream, error)
}

// Stream is one upstream subscription.
type Stream interface {
	// Events delivers the notifications; it is closed when the stream ends.
	Events() <-chan Event
	// Err tells why the stream ended, once Events is closed.
	Err() error
	// Close ends the stream (eth_unsubscribe upstream). It does not block.
	Close()
}

// Event is one item of a stream: a notification's result, or, from a
// polling stream, the news that block Block's canonical hash is Hash
// (Result nil).
type Event struct {
	Result []byte
	Block  uint64
	Hash   string
}

// Sink receives one subscriber's notifications. Deliver must not block: a
// sink that cannot take more is its owner's to close.
type Sink interface {
	Deliver(result []byte)
}

// NodeError is a node's JSON-RPC error answer to eth_subscribe, passed to
// the client unchanged.
type NodeError struct {
	Node string
	Code int
	// Raw is the error object as the node sent it.
	Raw []byte
	Msg string
}

func (e *NodeError) Error() string { return e.Node + ": " + e.Msg }

// endable is the shared end-of-stream logic of stream implementations.
type endable struct {
	events chan Event
	mu     sync.Mutex // protects ended, err, and sending on events
	ended  bool
	err    error
}

func newEndable(buffer int) endable { return endable{events: make(chan Event, buffer)} }

func (e *endable) Events() <-chan Event { return e.events }

func (e *endable) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// push queues ev without blocking; a full buffer ends the stream, and the
// feed resubscribes and fills the gap.
func (e *endable) push(ev Event) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ended {
		return false
	}
	select {
	case e.events <- ev:
		return true
	default:
		e.endLocked(errStreamFull)
		return false
	}
}

func (e *endable) end(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.endLocked(err)
}

func (e *endable) endLocked(err error) {
	if !e.ended {
		e.ended, e.err = true, err
		close(e.events)
	}
}

var errStreamFull = errors.New("stream buffer full: the feed fell behind")

// Endable is the end-of-stream logic other packages' streams share: embed
// it, push events, end it once.
type Endable struct{ endable }

// NewEndable returns an Endable with room for buffer events.
func NewEndable(buffer int) *Endable { return &Endable{newEndable(buffer)} }

// Push queues a notification's result; false when the stream has ended
// (a full buffer ends it).
func (e *Endable) Push(result []byte) bool { return e.push(Event{Result: result}) }

// End ends the stream with err (once).
func (e *Endable) End(err error) { e.end(err) }
