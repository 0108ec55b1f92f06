package access

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// bucket is one token bucket a call takes from.
type bucket struct {
	id    string     // "k:<name>" or "t:<subject>"; "" for a client IP's
	ip    netip.Addr // the client IP of an IP bucket
	limit Limit
}

// name is the bucket's shared (Redis) name.
func (b *bucket) name() string {
	if b.id == "" {
		return "ip:" + b.ip.String()
	}
	return b.id
}

// charge is what one request takes: cost units from up to two buckets,
// and from a daily quota.
type charge struct {
	buckets [2]bucket
	n       int
	cost    int
	quotaID string // "" when no quota
	quota   int64
	name    string // the key's name, for the quota's error
}

func (c *charge) add(b bucket) {
	if b.limit.Rate > 0 && c.n < len(c.buckets) {
		c.buckets[c.n] = b
		c.n++
	}
}

// outcome is a limiter's answer. ok false with quota false is a rate
// refusal by buckets[which].
type outcome struct {
	ok    bool
	quota bool
	which int
	retry time.Duration
}

// limiter takes charges; a shared one may fail when its store is down.
type limiter interface {
	take(ctx context.Context, c *charge, now time.Time) (outcome, error)
}

// maxLocalBuckets bounds the local buckets; past it, full (idle) buckets
// are dropped, then per-IP ones (see local.bucket).
const maxLocalBuckets = 100_000

// local keeps buckets and quotas in this process.
type local struct {
	mu      sync.Mutex // protects buckets, ips, quotas
	buckets map[string]*localBucket
	ips     map[netip.Addr]*localBucket
	quotas  map[string]*localQuota
	swept   time.Time // the last sweep: at most one a second
}

type localBucket struct {
	lim   *rate.Limiter
	limit Limit
}

type localQuota struct {
	day  int64 // days since the epoch, UTC
	used int64
}

func newLocal() *local {
	return &local{buckets: map[string]*localBucket{}, ips: map[netip.Addr]*localBucket{}, quotas: map[string]*localQuota{}}
}

func (l *local) bucket(b *bucket, now time.Time) *rate.Limiter {
	var lb *localBucket
	if b.id == "" {
		lb = l.ips[b.ip]
	} else {
		lb = l.buckets[b.id]
	}
	if lb != nil && lb.limit == b.limit {
		return lb.lim
	}
	if lb == nil && len(l.buckets)+len(l.ips) >= maxLocalBuckets && now.Sub(l.swept) >= time.Second {
		// A sweep reads every bucket under the lock: once a second at most.
		// When forgetting full buckets is not enough (a flood of new client
		// addresses), per-IP buckets are dropped in map order down to 90 %
		// of the bound: a forgotten client only gets its burst again.
		l.swept = now
		sweep(l.buckets, now)
		sweep(l.ips, now)
		for ip := range l.ips {
			if len(l.buckets)+len(l.ips) < maxLocalBuckets*9/10 {
				break
			}
			delete(l.ips, ip)
		}
	}
	lb = &localBucket{lim: rate.NewLimiter(rate.Limit(b.limit.Rate), b.limit.Burst), limit: b.limit}
	if b.id == "" {
		l.ips[b.ip] = lb
	} else {
		l.buckets[b.id] = lb
	}
	return lb.lim
}

// sweep drops buckets that are full again: forgetting them changes nothing.
func sweep[K comparable](m map[K]*localBucket, now time.Time) {
	for id, lb := range m {
		if lb.lim.TokensAt(now) >= float64(lb.limit.Burst) {
			delete(m, id)
		}
	}
}

func (l *local) take(_ context.Context, c *charge, now time.Time) (outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.n == 1 && c.quotaID == "" {
		// One bucket: nothing to give back on a refusal.
		lim := l.bucket(&c.buckets[0], now)
		if lim.AllowN(now, c.cost) {
			return outcome{ok: true}, nil
		}
		r := lim.ReserveN(now, c.cost)
		d := r.DelayFrom(now)
		r.CancelAt(now)
		return outcome{retry: d}, nil
	}
	var rs [2]*rate.Reservation
	for i := range c.n {
		r := l.bucket(&c.buckets[i], now).ReserveN(now, c.cost)
		if d := r.DelayFrom(now); !r.OK() || d > 0 {
			if r.OK() {
				r.CancelAt(now)
			}
			for _, p := range rs[:i] {
				p.CancelAt(now)
			}
			return outcome{which: i, retry: d}, nil
		}
		rs[i] = r
	}
	if c.quotaID == "" {
		return outcome{ok: true}, nil
	}
	day := now.Unix() / 86400
	q := l.quotas[c.quotaID]
	if q == nil || q.day != day {
		q = &localQuota{day: day}
		l.quotas[c.quotaID] = q
	}
	if q.used+int64(c.cost) > c.quota {
		for _, p := range rs[:c.n] {
			p.CancelAt(now)
		}
		return outcome{quota: true, retry: untilMidnight(now)}, nil
	}
	q.used += int64(c.cost)
	return outcome{ok: true}, nil
}

func untilMidnight(now time.Time) time.Duration {
	u := now.UTC()
	next := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
	return next.Sub(u)
}

var _ limiter = (*local)(nil)
