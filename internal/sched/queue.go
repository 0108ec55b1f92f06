package sched

import (
	"context"
	"sync"
	"time"
)

// waitState is decided under Scheduler.mu; the Wait goroutine reads it
// under the lock, or without it after receiving from ready (the send
// happens after the write).
type waitState uint8

const (
	stateQueued  waitState = iota
	stateGranted           // try succeeded; ready holds a token
	stateClosed            // Close answered it; ready holds a token
	stateDropped           // its context was done when its turn came
)

// waiter is one queued call. Waiters are pooled: a waiter goes back to the
// pool only after it is unlinked and its ready token, if any, is consumed.
type waiter struct {
	prev, next *waiter
	ctx        context.Context
	try        Trier
	ready      chan struct{} // capacity 1: one token per grant or close
	queuedAt   time.Time     // when Wait queued it (for OnGrant)
	since      time.Time     // age used for promotion and ordering
	class      Class
	state      waitState
}

var waiterPool = sync.Pool{New: func() any { return &waiter{ready: make(chan struct{}, 1)} }}

func getWaiter() *waiter { return waiterPool.Get().(*waiter) }

func putWaiter(w *waiter) {
	w.ctx, w.try = nil, nil
	w.prev, w.next = nil, nil
	waiterPool.Put(w)
}

// list is an intrusive FIFO of waiters of one class.
type list struct {
	head, tail *waiter
	n          int
}

func (l *list) pushBack(w *waiter) {
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *list) pushFront(w *waiter) {
	w.prev, w.next = nil, l.head
	if l.head != nil {
		l.head.prev = w
	} else {
		l.tail = w
	}
	l.head = w
	l.n++
}

func (l *list) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.n--
}

// role is the slot a grant fills in the interleave; a promoted low call
// fills the high slot.
type role uint8

const (
	roleFastTrack role = iota
	roleHigh
	roleLow
)

// round is one dispatch pass: cur[c] is the first call of class c not yet
// offered a slot in this pass (calls before it failed their try).
type round struct {
	cur     [NumClasses]*waiter
	now     time.Time
	haveNow bool
}

// pick returns the next call in grant order among the calls not yet
// offered in this round, and the slot it fills. See doc.go for the rule.
func (s *Scheduler) pick(r *round) (*waiter, role) {
	ft, hi, lo := r.cur[FastTrack], r.cur[High], r.cur[Low]
	if lo != nil && (ft != nil || hi != nil) && s.cfg.lowShare > 0 && s.sinceLow >= s.cfg.lowShare-1 {
		return lo, roleLow
	}
	hc := hi
	if lo != nil && s.cfg.lowMaxWait > 0 && (hc == nil || lo.since.Before(hc.since)) {
		if !r.haveNow {
			r.now, r.haveNow = s.now(), true
		}
		if r.now.Sub(lo.since) >= s.cfg.lowMaxWait {
			hc = lo
		}
	}
	switch {
	case ft != nil && hc != nil:
		if s.cfg.drainFirst || s.ftRun < s.cfg.ftPerHigh {
			return ft, roleFastTrack
		}
		return hc, roleHigh
	case ft != nil:
		return ft, roleFastTrack
	case hc != nil:
		return hc, roleHigh
	case lo != nil:
		return lo, roleLow
	}
	return nil, roleLow
}

// dispatch grants waiting calls in grant order while their try succeeds.
// It stops at the first failure, or after 1+Lookahead failures; a call
// that waits for a node of its own (Particular) is passed over, not
// counted. A call
// whose context is already done is dropped without calling its try, so an
// expired call is never given a slot. Callers hold s.mu.
func (s *Scheduler) dispatch() {
	var r round
	for c := range s.queues {
		r.cur[c] = s.queues[c].head
	}
	failures, passed := 0, 0
	for {
		w, rl := s.pick(&r)
		if w == nil {
			return
		}
		next := w.next
		if w.ctx.Err() != nil {
			r.cur[w.class] = next
			s.unlink(w)
			w.state = stateDropped
			continue
		}
		if !w.try.Try() {
			if p, ok := w.try.(Particular); ok && passed < MaxPassed && p.Particular() {
				passed++ // it waits for a node of its own: the slot is another call's
				r.cur[w.class] = next
				continue
			}
			failures++
			if failures > s.cfg.lookahead {
				return
			}
			r.cur[w.class] = next
			continue
		}
		r.cur[w.class] = next
		s.account(w.class, rl)
		s.unlink(w)
		w.state = stateGranted
		s.stats.Granted[w.class]++
		w.ready <- struct{}{}
	}
}

// account updates the interleave counters for a grant, before the granted
// call leaves its queue.
func (s *Scheduler) account(c Class, rl role) {
	switch rl {
	case roleFastTrack:
		if s.ftRun < s.cfg.ftPerHigh {
			s.ftRun++
		}
	case roleHigh:
		s.ftRun = 0
	}
	switch {
	case c == Low:
		s.sinceLow = 0
	case s.queues[Low].n > 0 && s.sinceLow < s.cfg.lowShare:
		s.sinceLow++
	}
}

// unlink removes w from its queue and resets a counter whose queue became
// empty, so every busy period starts with the same order.
func (s *Scheduler) unlink(w *waiter) {
	s.queues[w.class].remove(w)
	s.total--
	if s.queues[FastTrack].n == 0 {
		s.ftRun = 0
	}
	if s.queues[Low].n == 0 {
		s.sinceLow = 0
	}
}
