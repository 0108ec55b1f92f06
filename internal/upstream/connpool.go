package upstream

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// connPool keeps a node's HTTP/1.1 connections: at most max in use by
// calls, and apart from them at most probeConns in use by health probes,
// so that a probe never waits for a connection behind calls (a node whose
// calls all take long is still seen to answer). The gateway's own fetches
// (a subscription's) take either kind. Both draw on one idle
// list, reused most recent first: a probe's connection serves the next
// probe, or a call. Connections idle longer than idleTimeout are closed
// when the pool is next used; no goroutine watches them.
type connPool struct {
	addr        string
	dialTimeout time.Duration
	idleTimeout time.Duration
	slots       chan struct{} // one token per connection a call holds or opens
	probes      chan struct{} // the same for probes

	mu     sync.Mutex // mu protects idle, busy, closed
	idle   []*pconn   // oldest first
	busy   *pconn     // the calls' connections in use, linked by next and prev
	closed bool
	// cut is set once interrupt has cut the calls' connections: a call
	// that took one since fails before it waits on the node.
	cut atomic.Bool
}

// pconn is one connection with its buffers.
type pconn struct {
	c        net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	send     *sender // under bw
	lastUse  time.Time
	reused   bool
	deadline bool          // a deadline is set on c
	slot     chan struct{} // the pool's slots it holds one of while in use
	// next and prev link a call's connection in the pool's busy list
	// while in use (inBusy).
	next, prev *pconn
	inBusy     bool
}

// probeConns is how many connections a node's probes may hold at once,
// beyond its calls': a node's probes run one after another, two only
// while the start's round meets the first tick.
const probeConns = 2

const connBufferSize = 32 << 10

var errNoConn = errors.New("no free connection to the node before the deadline")

func newConnPool(addr string, max int, dialTimeout, idleTimeout time.Duration) *connPool {
	return &connPool{addr: addr, dialTimeout: dialTimeout, idleTimeout: idleTimeout,
		slots: make(chan struct{}, max), probes: make(chan struct{}, probeConns)}
}

// get returns an idle connection or dials one, for kind (connCall, ...).
// fresh skips idle ones. A probe takes one of the probes' slots, never a
// call's; a background fetch either.
func (p *connPool) get(deadline time.Time, fresh bool, kind int) (*pconn, error) {
	var slot chan struct{}
	var err error
	switch kind {
	case connProbe:
		slot, err = p.probes, acquireSlot(p.probes, deadline, p.dialTimeout)
	case connBackground:
		slot, err = acquireEither(p.slots, p.probes, deadline, p.dialTimeout)
	default:
		slot, err = p.slots, acquireSlot(p.slots, deadline, p.dialTimeout)
	}
	if err != nil {
		return nil, err
	}
	call := kind == connCall
	if !fresh {
		if pc := p.popIdle(call); pc != nil {
			pc.reused, pc.slot = true, slot
			return pc, nil
		}
	}
	dl := time.Now().Add(p.dialTimeout)
	if !deadline.IsZero() && deadline.Before(dl) {
		dl = deadline
	}
	d := net.Dialer{Deadline: dl, KeepAlive: 30 * time.Second}
	c, err := d.Dial("tcp", p.addr)
	if err != nil {
		<-slot
		return nil, err
	}
	s := newSender(c)
	pc := &pconn{c: c, br: bufio.NewReaderSize(c, connBufferSize), bw: bufio.NewWriterSize(s, connBufferSize), send: s, slot: slot}
	if call {
		p.mu.Lock()
		p.link(pc)
		p.mu.Unlock()
	}
	return pc, nil
}

// acquireSlot takes a token of slots, waiting for one until deadline (for
// dialTimeout without one).
func acquireSlot(slots chan struct{}, deadline time.Time, dialTimeout time.Duration) error {
	_, err := acquireEither(slots, nil, deadline, dialTimeout)
	return err
}

// acquireEither takes a token of first, else of second (nil: none),
// waiting for either until deadline (dialTimeout without one), and returns
// the one it took.
func acquireEither(first, second chan struct{}, deadline time.Time, dialTimeout time.Duration) (chan struct{}, error) {
	select {
	case first <- struct{}{}:
		return first, nil
	default:
	}
	wait := dialTimeout
	if !deadline.IsZero() {
		wait = time.Until(deadline)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case first <- struct{}{}:
		return first, nil
	case second <- struct{}{}:
		return second, nil
	case <-t.C:
		return nil, errNoConn
	}
}

// popIdle takes the most recently used idle connection, closing those that
// were idle too long; one for a call goes on the busy list.
func (p *connPool) popIdle(call bool) *pconn {
	now := time.Now()
	var stale []*pconn
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].lastUse) > p.idleTimeout {
		n++
	}
	if n > 0 {
		stale = append(stale, p.idle[:n]...)
		k := copy(p.idle, p.idle[n:])
		clear(p.idle[k:])
		p.idle = p.idle[:k]
	}
	var pc *pconn
	if k := len(p.idle); k > 0 {
		pc = p.idle[k-1]
		p.idle[k-1] = nil
		p.idle = p.idle[:k-1]
		if call {
			p.link(pc)
		}
	}
	p.mu.Unlock()
	for _, s := range stale {
		s.c.Close()
	}
	return pc
}

// put returns a connection after a call or probe: to the idle list when
// reusable, closed otherwise. Either way its slot is freed.
func (p *connPool) put(pc *pconn, reusable bool) {
	slot := pc.slot
	if reusable || pc.inBusy {
		if reusable {
			pc.lastUse = time.Now()
		}
		p.mu.Lock()
		p.unlink(pc)
		if reusable && !p.closed {
			p.idle = append(p.idle, pc)
			pc = nil
		}
		p.mu.Unlock()
	}
	if pc != nil {
		pc.c.Close()
	}
	<-slot
}

// close closes the idle connections; those in use close when put back.
func (p *connPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}

// link puts a call's connection on the busy list; p.mu is held.
func (p *connPool) link(pc *pconn) {
	pc.prev, pc.next, pc.inBusy = nil, p.busy, true
	if p.busy != nil {
		p.busy.prev = pc
	}
	p.busy = pc
}

// unlink takes pc off the busy list, when on it; p.mu is held.
func (p *connPool) unlink(pc *pconn) {
	if !pc.inBusy {
		return
	}
	if pc.prev != nil {
		pc.prev.next = pc.next
	} else {
		p.busy = pc.next
	}
	if pc.next != nil {
		pc.next.prev = pc.prev
	}
	pc.prev, pc.next, pc.inBusy = nil, nil, false
}

// interrupt cuts the calls waiting on the node now, and from now on any
// call that takes a connection before it waits: their reads and writes
// fail at once (a deadline in the past). Probes and the gateway's own
// fetches go on. For the end of a shutdown's grace, whose calls are
// answered by the gateway instead.
func (p *connPool) interrupt() {
	p.cut.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := p.busy; pc != nil; pc = pc.next {
		_ = pc.c.SetDeadline(pastDeadline)
	}
}

// pastDeadline is a deadline that has passed: an I/O waiting on it fails.
var pastDeadline = time.Unix(1, 0)

// setDeadline bounds the call's reads and writes on pc by deadline (none
// when zero).
func (pc *pconn) setDeadline(deadline time.Time) error {
	if deadline.IsZero() && !pc.deadline {
		return nil
	}
	pc.deadline = !deadline.IsZero()
	return pc.c.SetDeadline(deadline)
}
