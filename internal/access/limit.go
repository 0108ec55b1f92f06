package access

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// bucket is one token bucket a call takes from.
type bucket struct {
	id    string // "k:<name>", "t:<subject>" or "ip:<addr>"
	who   string // what an error names: `API key "a"`, `client IP`
	limit Limit
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
// are dropped.
const maxLocalBuckets = 100_000

// local keeps buckets and quotas in this process.
type local struct {
	mu      sync.Mutex // protects buckets, quotas
	buckets map[string]*localBucket
	quotas  map[string]*localQuota
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
	return &local{buckets: map[string]*localBucket{}, quotas: map[string]*localQuota{}}
}

func (l *local) bucket(b *bucket, now time.Time) *rate.Limiter {
	lb := l.buckets[b.id]
	if lb != nil && lb.limit == b.limit {
		return lb.lim
	}
	if lb == nil && len(l.buckets) >= maxLocalBuckets {
		l.sweep(now)
	}
	lb = &localBucket{lim: rate.NewLimiter(rate.Limit(b.limit.Rate), b.limit.Burst), limit: b.limit}
	l.buckets[b.id] = lb
	return lb.lim
}

// sweep drops buckets that are full again: forgetting them changes nothing.
func (l *local) sweep(now time.Time) {
	for id, lb := range l.buckets {
		if lb.lim.TokensAt(now) >= float64(lb.limit.Burst) {
			delete(l.buckets, id)
		}
	}
}

func (l *local) take(_ context.Context, c *charge, now time.Time) (outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
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
