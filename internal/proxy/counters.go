package proxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// counterCache keeps the counters of label sets seen before, so the hot
// path neither hashes label values nor allocates on every call.
type counterCache struct {
	vec *prometheus.CounterVec
	mu  sync.RWMutex // mu protects m
	m   map[[3]string]prometheus.Counter
}

func (c *counterCache) get(a, b, d string) prometheus.Counter {
	key := [3]string{a, b, d}
	c.mu.RLock()
	ctr, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return ctr
	}
	ctr = c.vec.WithLabelValues(a, b, d)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[[3]string]prometheus.Counter{}
	}
	c.m[key] = ctr
	c.mu.Unlock()
	return ctr
}
