package ws

import (
	"context"
	"sync"
)

// outQueue holds the messages waiting to be written to one client. It
// grows only as far as it is used, so an idle connection costs little, and
// never beyond limit.
type outQueue struct {
	mu    sync.Mutex // protects items, head
	items []outgoing
	head  int // items[head:] are waiting
	limit int
	ready chan struct{} // signalled when a message is queued
	room  chan struct{} // signalled when a message is taken
}

func newOutQueue(limit int) *outQueue {
	return &outQueue{limit: limit, ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// tryPush queues m unless the queue is full.
func (q *outQueue) tryPush(m outgoing) bool { return q.tryPushThen(m, nil) }

func (q *outQueue) tryPushThen(m outgoing, then func()) bool {
	q.mu.Lock()
	n := len(q.items) - q.head
	if n >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) { // reuse the taken slots before growing
		copy(q.items, q.items[q.head:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, m)
	if then != nil {
		then()
	}
	q.mu.Unlock()
	signal(q.ready)
	return true
}

// push queues m, waiting for room until ctx ends.
func (q *outQueue) push(ctx context.Context, m outgoing) bool {
	return q.pushThen(ctx, m, nil)
}

// pushThen is push, calling then (when not nil) while m is being queued,
// before any later message can be.
func (q *outQueue) pushThen(ctx context.Context, m outgoing, then func()) bool {
	for {
		if q.tryPushThen(m, then) {
			if q.len() < q.limit {
				signal(q.room) // another waiter may fit too
			}
			return true
		}
		select {
		case <-q.room:
		case <-ctx.Done():
			return false
		}
	}
}

// pop takes the oldest message, if any.
func (q *outQueue) pop() (outgoing, bool) {
	q.mu.Lock()
	if q.head == len(q.items) {
		if cap(q.items) > 64 {
			q.items = nil // let a burst's memory go
		} else {
			q.items = q.items[:0]
		}
		q.head = 0
		q.mu.Unlock()
		return outgoing{}, false
	}
	m := q.items[q.head]
	q.items[q.head] = outgoing{}
	q.head++
	q.mu.Unlock()
	signal(q.room)
	return m, true
}

func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
