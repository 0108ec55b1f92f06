package sched

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// queueFullErrs name the full class without allocating on the reject path.
var queueFullErrs = [NumClasses]error{
	fmt.Errorf("sched: queuing %s call: %w", FastTrack, ErrQueueFull),
	fmt.Errorf("sched: queuing %s call: %w", High, ErrQueueFull),
	fmt.Errorf("sched: queuing %s call: %w", Low, ErrQueueFull),
}

// Stats are cumulative counters per class, indexed by Class.
type Stats struct {
	// Granted counts calls given a slot (fast path included).
	Granted [NumClasses]uint64
	// Rejected counts calls refused with ErrQueueFull.
	Rejected [NumClasses]uint64
	// Expired counts calls whose deadline passed before they got a slot.
	Expired [NumClasses]uint64
	// Canceled counts calls whose context was canceled before they got a
	// slot.
	Canceled [NumClasses]uint64
}

// Scheduler orders the calls waiting for a worker slot on one network.
// All methods are safe for concurrent use.
type Scheduler struct {
	cfg settings
	now func() time.Time

	mu       sync.Mutex
	queues   [NumClasses]list // mu protects queues, total, ftRun, sinceLow, closed, stats
	total    int
	ftRun    int // fast-track grants since the last high grant (saturates at FastTrackPerHigh)
	sinceLow int // non-low grants since the last low grant while low waits (saturates at LowShare)
	closed   bool
	stats    Stats

	// queuedHook, when set (tests only), runs under mu each time a call
	// is queued.
	queuedHook func(Class)
}

// New returns a scheduler for cfg, with defaults applied to zero fields.
// now is the clock used for waiting times and LowMaxWait (nil: time.Now).
// New panics if cfg.Validate fails: validate configuration when loading it.
func New(cfg Config, now func() time.Time) *Scheduler {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if now == nil {
		now = time.Now
	}
	return &Scheduler{cfg: cfg.settings(), now: now}
}

// Wait blocks until try, called by the scheduler, returned true for this
// call; then it returns nil and the slot try reserved belongs to the
// caller, who must free it and call Kick when the call ends.
//
// try is called with the scheduler's lock held, in grant order, possibly
// several times and from other goroutines' Wait or Kick. It must be cheap,
// must not block or call the Scheduler, and must not panic.
//
// When nothing waits, try is called at once and Wait returns without
// queuing. Otherwise the call is queued at the back of its class, or at
// the front when retry is true (a call retried after a node failed it);
// retried calls are admitted even when the class is at MaxQueued, so a
// call the gateway already accepted is never dropped as "queue full".
//
// Errors: ErrQueueFull at once when the class is full; ErrClosed when the
// scheduler is or gets closed; when ctx ends while queued, an error
// wrapping ErrExpired and context.DeadlineExceeded for a deadline, or
// wrapping ctx.Err() otherwise. A call whose context is done when its turn
// comes is never granted. If the grant and the end of ctx race, the grant
// wins only if it was decided first; then Wait returns nil.
func (s *Scheduler) Wait(ctx context.Context, class Class, retry bool, try func() bool) error {
	_, err := s.WaitQueued(ctx, class, retry, try)
	return err
}

// WaitQueued is Wait that also returns how many calls of the class were
// queued when this call joined the queue, itself included: 0 when it was
// granted at once, 1 when it was the only one waiting in its class. (These
// are the sizes prio-load-balancer reports in X-PrioLB-QueueSizeStart.)
func (s *Scheduler) WaitQueued(ctx context.Context, class Class, retry bool, try func() bool) (int, error) {
	return s.WaitFor(ctx, class, retry, TryFunc(try))
}

// Trier tries to take a slot: Try reports whether it did. A Scheduler
// calls it with its lock held.
type Trier interface{ Try() bool }

// Particular is a Trier that can tell, after a failed try, that the call
// waits for a node of its own while a slot is free that other calls may
// take (it needs a node that is busy, at its rate limit or cooling down).
// The scheduler then offers the slot to the calls behind it, up to
// MaxPassed calls a round, instead of stopping at it.
type Particular interface {
	Trier
	Particular() bool
}

// MaxPassed bounds the calls a round passes over as Particular: each costs
// a failed try under the scheduler's lock.
const MaxPassed = 64

// TryFunc is a function as a Trier.
type TryFunc func() bool

// Try calls f.
func (f TryFunc) Try() bool { return f() }

// WaitFor is WaitQueued with a Trier: a caller that keeps its Trier in
// pooled memory waits without allocating.
func (s *Scheduler) WaitFor(ctx context.Context, class Class, retry bool, try Trier) (int, error) {
	if class >= NumClasses {
		return 0, fmt.Errorf("sched: waiting for a slot: unknown class %d", class)
	}
	if err := ctx.Err(); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return 0, s.ctxError(class, err)
	}
	w, waited, queued, err := s.enter(ctx, class, retry, try)
	if err != nil || w == nil {
		if err == nil && s.cfg.onGrant != nil {
			s.cfg.onGrant(class, waited)
		}
		return queued, err
	}
	done := ctx.Done()
	if done == nil { // the context can never end: skip the select
		<-w.ready
		return queued, s.woken(w)
	}
	select {
	case <-w.ready:
		return queued, s.woken(w)
	case <-done:
		return queued, s.leave(w)
	}
}

// enter takes the fast path or queues the call. It returns a nil waiter and
// error when the call was granted without blocking, with the time it spent
// queued. queued is the class's queue length once the call joined it (0 on
// the fast path).
func (s *Scheduler) enter(ctx context.Context, class Class, retry bool, try Trier) (w *waiter, waited time.Duration, queued int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, 0, ErrClosed
	}
	if s.total == 0 && try.Try() {
		s.stats.Granted[class]++
		return nil, 0, 0, nil
	}
	if !retry && s.queues[class].n >= s.cfg.maxQueued[class] {
		s.stats.Rejected[class]++
		return nil, 0, 0, queueFullErrs[class]
	}
	w = getWaiter()
	w.ctx, w.try, w.class, w.state = ctx, try, class, stateQueued
	w.queuedAt = s.now()
	w.since = w.queuedAt
	others := s.total > 0
	q := &s.queues[class]
	if retry {
		if q.head != nil && q.head.since.Before(w.since) {
			w.since = q.head.since // a retried call takes the age of the head it overtakes
		}
		q.pushFront(w)
	} else {
		q.pushBack(w)
	}
	s.total++
	queued = q.n
	if s.queuedHook != nil {
		s.queuedHook(class)
	}
	if others {
		// The call may have become the head; with nothing else waiting its
		// try just failed, so there is nothing to retry.
		s.dispatch()
	}
	if w.state == stateGranted {
		<-w.ready
		waited = s.now().Sub(w.queuedAt)
		putWaiter(w)
		return nil, waited, queued, nil
	}
	return w, 0, queued, nil
}

// woken handles a token on w.ready: a grant or a close.
func (s *Scheduler) woken(w *waiter) error {
	state, class := w.state, w.class
	var waited time.Duration
	if state == stateGranted && s.cfg.onGrant != nil {
		waited = s.now().Sub(w.queuedAt)
	}
	putWaiter(w)
	if state == stateClosed {
		return ErrClosed
	}
	if s.cfg.onGrant != nil {
		s.cfg.onGrant(class, waited)
	}
	return nil
}

// leave handles the end of the call's context: the state decided under the
// lock says whether it was granted, closed, or must give up.
func (s *Scheduler) leave(w *waiter) error {
	s.mu.Lock()
	switch w.state {
	case stateGranted, stateClosed:
		s.mu.Unlock()
		<-w.ready
		return s.woken(w)
	case stateQueued:
		s.unlink(w)
		if s.total > 0 && !s.closed {
			s.dispatch() // the calls behind it may go now
		}
	}
	err := s.ctxError(w.class, w.ctx.Err())
	s.mu.Unlock()
	putWaiter(w)
	return err
}

// ctxError counts a call whose context ended before it got a slot and
// builds its error. Callers hold s.mu.
func (s *Scheduler) ctxError(class Class, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		s.stats.Expired[class]++
		return fmt.Errorf("sched: waiting in %s queue: %w: %w", class, ErrExpired, err)
	}
	s.stats.Canceled[class]++
	return fmt.Errorf("sched: waiting in %s queue: %w", class, err)
}

// Kick grants waiting calls in order while their try succeeds. Call it
// whenever capacity may have freed: a call ended, a node was added or
// became healthy.
func (s *Scheduler) Kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total > 0 && !s.closed {
		s.dispatch()
	}
}

// Len returns the number of queued calls per class.
func (s *Scheduler) Len() [NumClasses]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n [NumClasses]int
	for c := range s.queues {
		n[c] = s.queues[c].n
	}
	return n
}

// Stats returns a copy of the cumulative counters.
func (s *Scheduler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close answers every queued call with ErrClosed; later Waits return
// ErrClosed at once and Kick does nothing. Close is idempotent.
func (s *Scheduler) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.queues {
		q := &s.queues[c]
		for w := q.head; w != nil; w = q.head {
			s.unlink(w)
			w.state = stateClosed
			w.ready <- struct{}{}
		}
	}
}
