package ws

import (
	"context"
	"sync"
)

// outQueue holds the messages waiting to be written to one client. It
// grows only as far as it is used, so an idle connection costs little. It
// holds at most limit messages; their bytes are counted against budget:
// answers already made are queued over it (the reader waits instead, see
// waitDrained), notifications are not.
type outQueue struct {
	mu     sync.Mutex // protects items, head, bytes, notes
	items  []outgoing
	head   int   // items[head:] are waiting
	bytes  int64 // of the messages waiting
	notes  int64 // of the notifications waiting
	limit  int
	budget int64
	ready  chan struct{} // signalled when a message is queued
	room   chan struct{} // signalled when a message is taken
	// drained is signalled when a message is taken and the bytes waiting
	// are under budget; the connection's reader alone waits on it.
	drained chan struct{}
}

func newOutQueue(limit int, budget int64) *outQueue {
	return &outQueue{limit: limit, budget: budget,
		ready: make(chan struct{}, 1), room: make(chan struct{}, 1), drained: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// size is what m counts against the budget: its bytes, which the queue
// holds (a notification's result is shared with other subscribers, but
// each one's copy is written, and waits, on its own).
func (m *outgoing) size() int64 { return int64(len(m.data) + len(m.result)) }

// tryPush queues m unless the queue is full.
func (q *outQueue) tryPush(m outgoing) bool { return q.tryPushThen(m, nil) }

// tryNotify queues a notification unless the queue is full or the
// notifications waiting would go past the budget; one notification
// larger than the budget is taken when no other waits.
func (q *outQueue) tryNotify(m outgoing) bool {
	q.mu.Lock()
	n := m.size()
	if q.notes > 0 && q.notes+n > q.budget {
		q.mu.Unlock()
		return false
	}
	return q.addLocked(m, nil)
}

func (q *outQueue) tryPushThen(m outgoing, then func()) bool {
	q.mu.Lock()
	return q.addLocked(m, then)
}

// addLocked queues m when there is room; it is called with mu held and
// releases it.
func (q *outQueue) addLocked(m outgoing, then func()) bool {
	n := len(q.items) - q.head
	if n >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) { // reuse the taken slots before growing
		copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	q.items = append(q.items, m)
	size := m.size()
	q.bytes += size
	if m.sub != nil {
		q.notes += size
	}
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
	size := m.size()
	q.bytes -= size
	if m.sub != nil {
		q.notes -= size
	}
	under := q.bytes < q.budget
	q.mu.Unlock()
	signal(q.room)
	if under {
		signal(q.drained)
	}
	return m, true
}

// waitDrained waits until the bytes waiting are under the budget; false
// when ctx ended first. One goroutine at a time may wait.
func (q *outQueue) waitDrained(ctx context.Context) bool {
	for {
		q.mu.Lock()
		under := q.bytes < q.budget
		q.mu.Unlock()
		if under {
			return true
		}
		select {
		case <-q.drained:
		case <-ctx.Done():
			return false
		}
	}
}

func (q *outQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
