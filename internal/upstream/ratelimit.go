package upstream

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit caps the calls sent to a node: Rate calls a second, and up to
// Burst at once. Each call of a batch counts. The zero RateLimit is no cap.
type RateLimit struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst,omitempty"` // 0: Rate rounded up, at least 1
	// Shared makes the limit one for every replica: the node spends
	// tokens leased from a shared bucket (see lease.go), and counts on its
	// own bucket only while that cannot be reached.
	Shared bool `json:"shared,omitempty"`
}

// MinRate is the least rate a limit may have: one call in 1000 s.
const MinRate = 0.001

// RateProblem is what is wrong with one member of a RateLimit.
type RateProblem struct {
	Key     string // "rate", "burst" or "shared"
	Message string
}

// Problems lists what is wrong with l, by member; none for a limit that
// can be served (the zero RateLimit is no limit).
func (l RateLimit) Problems() []RateProblem {
	var out []RateProblem
	add := func(key, format string, args ...any) {
		out = append(out, RateProblem{key, fmt.Sprintf(format, args...)})
	}
	if l.Rate < 0 || math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) {
		add("rate", "%v is not a rate: use calls a second, such as 25 (0: no limit)", l.Rate)
	} else if l.Rate > 0 && l.Rate < MinRate {
		add("rate", "%v is less than %v, one call in 1000 s: use a higher rate, or deny the node's methods", l.Rate, MinRate)
	}
	if l.Burst < 0 {
		add("burst", "must be 1 or more (0 takes the rate, rounded up)")
	}
	if l.Burst > 0 && l.Rate == 0 {
		add("burst", "is set without rate: set rate_limit.rate too, such as 25 (calls a second)")
	}
	if l.Shared && l.Rate == 0 {
		add("shared", "is set without rate: set rate_limit.rate too, such as 25 (calls a second)")
	}
	return out
}

// burst is the bucket's size.
func (l RateLimit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int(l.Rate+0.999999))
}

// Cool-down after a node answered that calls come too fast (HTTP 429):
// its Retry-After when it gives one, bounded, else DefaultCoolDown.
const (
	DefaultCoolDown = time.Second
	MaxCoolDown     = 5 * time.Minute
)

// newLimiter returns the node's bucket, nil without a cap.
func newLimiter(l RateLimit) *rate.Limiter {
	if l.Rate <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(l.Rate), l.burst())
}

// at is the time.Time of now (from Now), without reading the clock.
func at(now int64) time.Time { return epoch.Add(time.Duration(now)) }

// bounded bounds a call's count to what the bucket holds at most: a batch
// larger than the burst waits for a full bucket rather than never fitting
// (and owes the rest, see TryAcquireCalls).
func (n *Node) bounded(count int) int {
	return min(max(count, 1), n.limiter.Burst())
}

// MayWait reports whether the node may have to wait before a call at now
// (see Wait): it has a rate limit, or cools down. Cheap, for the pick path.
func (n *Node) MayWait(now int64) bool { return n.limiter != nil || n.coolUntil.Load() > now }

// MayHold reports, without reading the clock, whether the node has a rate
// limit or has cooled down after a rate limit answer at some time.
func (n *Node) MayHold() bool { return n.limiter != nil || n.coolUntil.Load() != 0 }

// Wait returns how long from now until the node may be sent count calls:
// 0 when it may be now. A node waits while it cools down after a rate
// limit answer, and while its own rate limit has fewer than count calls
// left.
func (n *Node) Wait(now int64, count int) time.Duration {
	var d time.Duration
	if until := n.coolUntil.Load(); until > now {
		d = time.Duration(until - now)
	}
	if n.limiter == nil {
		return d
	}
	if s := n.lease; s != nil && s.shared() {
		return max(d, s.wait(now, int64(n.bounded(count))))
	}
	need := float64(n.bounded(count))
	t := at(now)
	if have := n.limiter.TokensAt(t); have < need {
		d = max(d, time.Duration((need-have)/float64(n.limiter.Limit())*float64(time.Second))+1)
	}
	return d
}

// TryAcquireCalls is TryAcquire for count calls sent at now: it also takes
// them from the node's rate limit, and fails, taking nothing, when the
// node must wait (see Wait).
func (n *Node) TryAcquireCalls(now int64, count int) bool {
	if !n.MayWait(now) {
		return n.TryAcquire()
	}
	if n.coolUntil.Load() > now || !n.TryAcquire() {
		return false
	}
	if n.limiter == nil {
		return true
	}
	if s := n.lease; s != nil && s.shared() {
		if !s.take(now, int64(n.bounded(count)), int64(max(count, 1))) {
			n.Release()
			n.EndTrial()
			return false
		}
		return true
	}
	t, b := at(now), n.limiter.Burst()
	if !n.limiter.AllowN(t, n.bounded(count)) {
		n.Release()
		n.EndTrial() // no call went: a breaker's trial is given back
		return false
	}
	// A batch larger than the bucket went with a full one: the rest is
	// owed, and the node's next calls wait until it is paid.
	for rest := max(count, 1) - b; rest > 0; rest -= b {
		n.limiter.ReserveN(t, min(rest, b))
	}
	return true
}

// CoolDown passes the node over for d (bounded by MaxCoolDown) from now:
// it answered that calls come too fast. On a node a reload replaced, it
// cools down the node serving in its place (see Inherit).
func (n *Node) CoolDown(d time.Duration) {
	n = n.serving()
	if d <= 0 {
		d = DefaultCoolDown
	}
	d = min(d, MaxCoolDown)
	now := Now()
	n.coolTo(now, now+int64(d), true)
}

// coolTo raises the node's cool-down to until (a Now()); tell: it is this
// replica's news, told to the others when the rate limit is shared.
func (n *Node) coolTo(now, until int64, tell bool) {
	for {
		cur := n.coolUntil.Load()
		if cur >= until {
			return
		}
		if n.coolUntil.CompareAndSwap(cur, until) {
			if tell && n.lease != nil {
				n.lease.tell.Store(true)
				n.lease.ask(0)
			}
			if cur <= now && n.OnCoolDown != nil {
				n.OnCoolDown(n, time.Duration(until-now), !tell) // it was not cooling down: it starts now
			}
			return
		}
	}
}

// coolOnTooMany cools the node down when err is its HTTP 429. (Its own
// function: the error it reads into stays off the heap of a call that
// succeeds.)
func (n *Node) coolOnTooMany(err error) {
	var ue *Error
	if errors.As(err, &ue) && ue.Kind == KindRateLimited {
		n.CoolDown(ue.RetryAfter)
	}
}

// CoolingDown returns how much longer the node cools down after a rate
// limit answer (0: it does not).
func (n *Node) CoolingDown() time.Duration {
	if d := n.coolUntil.Load() - Now(); d > 0 {
		return time.Duration(d)
	}
	return 0
}

// RateLimited returns the node's rate limit: calls a second and burst (0,
// 0 without one).
func (n *Node) RateLimited() (rate float64, burst int) {
	if n.limiter == nil {
		return 0, 0
	}
	return float64(n.limiter.Limit()), n.limiter.Burst()
}

// RetryAfter reads a Retry-After header: seconds, or an HTTP date. 0 when
// absent or not understood.
func RetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(MaxCoolDown/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(t), 0), MaxCoolDown)
	}
	return 0
}
