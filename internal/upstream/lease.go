package upstream

import (
	"math"
	"sync/atomic"
	"time"
)

// A node whose rate limit is shared by replicas (RateLimit.Shared) spends
// tokens leased from a bucket kept elsewhere (Redis): a background loop
// takes them a chunk at a time (LeaseDue, Leased) and the calls spend them
// here, with atomics only. A replica holds about a chunk beyond what its
// waiting calls need; what it does not spend within the lease's life is
// forgotten, so an idle replica keeps nothing from the others. While the
// bucket cannot be reached (LeaseFailed) the node counts on its own bucket
// at the configured rate, as a node without Shared does, until the next
// answer.

// Lease timing.
const (
	// LeaseLifeMin is the least time a leased token may wait to be spent
	// (at low rates it is two token intervals).
	LeaseLifeMin = time.Second
	// LeasePoll is how often a node in use asks the shared bucket even
	// when it holds tokens: the bound on how late it learns a cool-down
	// another replica met.
	LeasePoll = 100 * time.Millisecond
	// LeaseRetry is how often a node counting on its own bucket (the
	// shared one could not be reached) asks the shared one again.
	LeaseRetry = time.Second
	// leaseIdle: a node without a call or a wait for this long is not
	// polled.
	leaseIdle = 10 * time.Second
)

// Lease modes.
const (
	leaseStarting uint32 = iota // no answer yet: calls wait for a first lease
	leaseShared                 // the shared bucket answers
	leaseLocal                  // it does not: the node's own bucket counts
)

// lease is the tokens a replica holds of a shared rate limit.
type lease struct {
	chunk    int64 // tokens taken at a time: a tenth of the burst, at least 1
	lowWater int64 // fewer left than this after a call: take the next chunk
	burst    int64
	rate     float64
	life     int64 // ns a token may wait to be spent
	want     func()

	tokens  atomic.Int64  // held
	owed    atomic.Int64  // spent beyond what was held (a batch larger than it), to charge to the shared bucket
	expires atomic.Int64  // Now() past which held tokens are forgotten
	retryAt atomic.Int64  // Now() before which the bucket had no token to spare
	need    atomic.Int64  // tokens a waiting call needs (0: none waits)
	usedAt  atomic.Int64  // Now() of the last call or wait
	polled  atomic.Int64  // Now() of the last answer or failure
	tell    atomic.Bool   // a cool-down of this replica is to be told to the others
	mode    atomic.Uint32 // leaseStarting, leaseShared or leaseLocal
}

func newLease(l RateLimit, want func()) *lease {
	if l.Rate <= 0 || !l.Shared {
		return nil
	}
	b := int64(l.burst())
	s := &lease{chunk: max(1, b/10), burst: b, rate: l.Rate, want: want}
	s.lowWater = s.chunk / 2
	s.life = max(int64(LeaseLifeMin), int64(2*float64(time.Second)/l.Rate))
	s.usedAt.Store(math.MinInt64 / 2)
	s.polled.Store(math.MinInt64 / 2)
	return s
}

// shared reports whether calls spend leased tokens (not the local bucket).
func (s *lease) shared() bool { return s.mode.Load() != leaseLocal }

// held returns the tokens held at now: none once they expired, but a debt
// stays.
func (s *lease) held(now int64) int64 {
	t := s.tokens.Load()
	if t > 0 && s.expires.Load() <= now {
		return 0
	}
	return t
}

// use records that the node was asked for at now (cheaply: at most one
// write a millisecond).
func (s *lease) use(now int64) {
	if now-s.usedAt.Load() > int64(time.Millisecond) {
		s.usedAt.Store(now)
	}
}

// ask tells the loop that a call needs need tokens (0: only that the held
// ones run low).
func (s *lease) ask(need int64) {
	for need > 0 {
		cur := s.need.Load()
		if cur >= need || s.need.CompareAndSwap(cur, need) {
			break
		}
	}
	if s.want != nil {
		s.want()
	}
}

// take spends count tokens for a call needing need of them (count bounded
// by the burst): false, spending nothing, when fewer are held. A batch
// larger than the burst goes with need; the rest is owed to the shared
// bucket (charged there with the next ask, so every replica waits for it).
func (s *lease) take(now, need, count int64) bool {
	s.use(now)
	for {
		cur := s.tokens.Load()
		have := cur
		if have > 0 && s.expires.Load() <= now {
			have = 0
		}
		if have < need {
			s.ask(need)
			return false
		}
		left := max(have-count, 0)
		if s.tokens.CompareAndSwap(cur, left) {
			if owe := count - have; owe > 0 {
				s.owed.Add(owe)
				s.ask(0)
			} else if left < s.lowWater {
				s.ask(0)
			}
			return true
		}
	}
}

// wait is Wait for a shared limit: 0 when need tokens are held, else an
// estimate of when they will be (the rate's worth of the missing ones, or
// the bucket's last refusal's retry), and the loop is asked for them.
func (s *lease) wait(now, need int64) time.Duration {
	s.use(now)
	have := s.held(now)
	if have >= need {
		return 0
	}
	s.ask(need)
	d := time.Duration(float64(need-have)/s.rate*float64(time.Second)) + 1
	if r := time.Duration(s.retryAt.Load() - now); r > d {
		d = r
	}
	return d
}

// LeaseAsk is what a node asks of its shared bucket.
type LeaseAsk struct {
	Tokens int           // tokens wanted; 0: none, only the news
	Owe    int           // tokens spent beyond those leased (a batch larger than them): charged whatever the bucket holds
	Cool   time.Duration // this replica's cool-down to tell the others; 0: none
	Rate   float64       // the limit: calls a second
	Burst  int           // and at once
}

// LeaseAnswer is the shared bucket's answer.
type LeaseAnswer struct {
	Granted int           // tokens leased
	Retry   time.Duration // with none granted: until the bucket has one to spare
	Cool    time.Duration // how much longer the node cools down (a replica met a 429)
}

// LeaseDue returns what the node's leasing loop should ask of the shared
// bucket at now, whether it should ask now, and (when not) the Now() at
// which to look again (0: nothing until a call asks). Asking clears the
// cool-down to tell: a failed ask gives it back through LeaseFailed.
func (n *Node) LeaseDue(now int64) (ask LeaseAsk, due bool, next int64) {
	s := n.lease
	if s == nil {
		return LeaseAsk{}, false, 0
	}
	ask = LeaseAsk{Rate: s.rate, Burst: int(s.burst)}
	have := s.held(now)
	target := s.need.Load()
	if now-s.usedAt.Load() < s.life && have < s.lowWater {
		target = max(target, s.chunk) // in use and running low: the next chunk before it runs out
	}
	inUse := now-s.usedAt.Load() < int64(leaseIdle)
	polled := s.polled.Load()
	wantTokens := target > have && now >= s.retryAt.Load()
	if wantTokens {
		ask.Tokens = int(min(max(target, s.chunk)-have, s.burst))
	}
	tell := s.tell.Load()
	// Counting on its own bucket: the shared one is asked again every
	// LeaseRetry, used or not, so the node goes back to it once it answers.
	retry := s.mode.Load() == leaseLocal && now-polled >= int64(LeaseRetry)
	switch {
	case tell, wantTokens, s.owed.Load() > 0, retry, inUse && now-polled >= int64(LeasePoll):
		if tell && s.tell.CompareAndSwap(true, false) {
			ask.Cool = time.Duration(n.coolUntil.Load() - now)
		}
		if ask.Cool < 0 {
			ask.Cool = 0
		}
		ask.Owe = int(s.owed.Swap(0))
		return ask, true, 0
	}
	if target > have {
		next = s.retryAt.Load()
	}
	if inUse && (next == 0 || polled+int64(LeasePoll) < next) {
		next = polled + int64(LeasePoll)
	}
	if s.mode.Load() == leaseLocal && (next == 0 || polled+int64(LeaseRetry) < next) {
		next = polled + int64(LeaseRetry)
	}
	return LeaseAsk{}, false, next
}

// Leased takes the shared bucket's answer to ask at now. It reports
// whether calls waiting for the node may go now (tokens arrived, or the
// node left the local bucket).
func (n *Node) Leased(now int64, a LeaseAnswer) (room bool) {
	s := n.lease
	if s == nil {
		return false
	}
	s.polled.Store(now)
	room = s.mode.Swap(leaseShared) != leaseShared
	if a.Granted > 0 {
		for {
			cur := s.tokens.Load()
			base := cur
			if base > 0 && s.expires.Load() <= now {
				base = 0 // expired: forgotten, not added to
			}
			if s.tokens.CompareAndSwap(cur, base+int64(a.Granted)) {
				break
			}
		}
		// Tokens, then their expiry: a call that sees the new tokens with
		// the old expiry waits for the next look, never spends old ones.
		s.expires.Store(now + s.life)
		s.retryAt.Store(0)
		if s.tokens.Load() >= s.need.Load() {
			s.need.Store(0)
		}
		room = true
	} else if a.Retry > 0 {
		s.retryAt.Store(now + int64(a.Retry))
	}
	if a.Cool > 0 {
		n.coolTo(now, now+int64(a.Cool), false)
	}
	return room
}

// LeaseFailed records that the shared bucket could not be asked ask at
// now: the node counts on its own bucket until the next answer. It
// reports whether the node was shared until now (calls waiting for a
// lease may go by the local bucket).
func (n *Node) LeaseFailed(now int64, ask LeaseAsk) bool {
	s := n.lease
	if s == nil {
		return false
	}
	s.polled.Store(now)
	if ask.Cool > 0 {
		s.tell.Store(true)
	}
	return s.mode.Swap(leaseLocal) != leaseLocal
}

// SharedLimit reports whether the node's rate limit is shared by replicas,
// and its state: "ok" (the shared bucket answers), "starting" (it has not
// answered yet) or "fallback" (it cannot be reached: this replica counts
// the node's calls on its own bucket meanwhile). "" when not shared.
func (n *Node) SharedLimit() (shared bool, state string) {
	if n.lease == nil {
		return false, ""
	}
	switch n.lease.mode.Load() {
	case leaseShared:
		return true, "ok"
	case leaseLocal:
		return true, "fallback"
	}
	return true, "starting"
}

// inherit carries old's tokens, cool-down news and mode over (a reload
// that changed the node's settings).
func (s *lease) inherit(old *lease) {
	s.tokens.Store(old.tokens.Load())
	s.owed.Store(old.owed.Swap(0))
	s.expires.Store(old.expires.Load())
	s.retryAt.Store(old.retryAt.Load())
	s.usedAt.Store(old.usedAt.Load())
	s.polled.Store(old.polled.Load())
	s.tell.Store(old.tell.Load())
	s.mode.Store(old.mode.Load())
}
