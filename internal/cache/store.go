package cache

import (
	"context"
	"fmt"
	"sync"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Config sizes the store.
type Config struct {
	// MaxBytes bounds the memory the entries take (keys, answers and a
	// fixed overhead per entry).
	MaxBytes uint64
	// MaxItemBytes is the largest answer kept; larger answers pass through
	// without being kept (and without being shared while in flight).
	MaxItemBytes int
	// Dedup makes identical reads in flight share one upstream call.
	Dedup bool
	// Redis is the second level shared by replicas (nil: none).
	Redis *RedisConfig
}

// entryOverhead is what an entry costs beyond its key and body: the entry
// struct, the store's node and its share of the hash table.
const entryOverhead = 128

// entry is a kept answer: the node's bytes with the id value cut out at
// idAt, so any client's id can be put back in its place.
type entry struct {
	body  []byte
	idAt  int
	stats *stats
}

// Store is the in-memory cache shared by every network. It is safe for
// concurrent use.
type Store struct {
	cfg     Config
	c       *otter.Cache[string, *entry]
	l2      *l2 // nil: no second level
	metrics *Metrics

	mu    sync.Mutex // mu protects stats
	stats map[[2]string]*stats
}

// New returns a store with its metrics registered on reg (nil: none).
func New(cfg Config, reg prometheus.Registerer) (*Store, error) {
	if cfg.MaxBytes == 0 {
		return nil, fmt.Errorf("cache: max_bytes must be above 0")
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, metrics: m, stats: map[[2]string]*stats{}}
	s.c, err = otter.New(&otter.Options[string, *entry]{
		MaximumWeight: cfg.MaxBytes,
		Weigher: func(k string, e *entry) uint32 {
			return uint32(min(len(k)+len(e.body)+entryOverhead, 1<<32-1))
		},
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *entry]) {
			e := ev.Value
			e.stats.bytes.Sub(float64(len(ev.Key) + len(e.body)))
			if ev.Cause.IsEviction() {
				e.stats.evictions.Inc()
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if cfg.Redis != nil {
		if s.l2, err = newL2(*cfg.Redis, m); err != nil {
			s.c.StopAllGoroutines()
			return nil, err
		}
	}
	return s, nil
}

// Close stops the store's background work and drops what is still to be
// written to Redis.
func (s *Store) Close() {
	s.c.StopAllGoroutines()
	if s.l2 != nil {
		s.l2.close()
	}
}

// Flush waits until the answers kept so far are written to Redis (at once
// without a second level).
func (s *Store) Flush(ctx context.Context) error {
	if s.l2 == nil {
		return nil
	}
	return s.l2.flush(ctx)
}

// Network returns the cache of one network whose chain id and finalized
// block chain reports. Entries are keyed by the network's name and its
// chain id: after the network moves to another chain (a reload that points
// it at other nodes, or changes its chain_id), the entries of the chain it
// left are never found again and age out of the store; a network of the
// same name on another chain, in another replica sharing Redis, never finds
// this one's.
func (s *Store) Network(name string, chain Chain) *Network {
	n := &Network{store: s, name: name, chain: chain, flights: newFlights(), stats: make(map[string]*stats, len(policies))}
	for m := range policies {
		n.stats[m] = s.statsFor(name, m)
	}
	return n
}

// Len returns the number of entries (for tests and the status page).
func (s *Store) Len() int { return s.c.EstimatedSize() }

// Bytes returns the weight the entries take.
func (s *Store) Bytes() uint64 { return s.c.WeightedSize() }

// stats are one (network, method)'s collectors, resolved once.
type stats struct {
	hits, misses, shared, evictions prometheus.Counter
	bytes                           prometheus.Gauge
}

func (s *Store) statsFor(network, method string) *stats {
	k := [2]string{network, method}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stats[k]; ok {
		return st
	}
	m := s.metrics
	st := &stats{
		hits:      m.lookups.WithLabelValues(network, method, "hit"),
		misses:    m.lookups.WithLabelValues(network, method, "miss"),
		shared:    m.shared.WithLabelValues(network, method),
		evictions: m.evictions.WithLabelValues(network, method),
		bytes:     m.bytes.WithLabelValues(network, method),
	}
	s.stats[k] = st
	return st
}

// Metrics are the cache's collectors.
type Metrics struct {
	lookups   *prometheus.CounterVec
	shared    *prometheus.CounterVec
	evictions *prometheus.CounterVec
	bytes     *prometheus.GaugeVec
	redis     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_cache_lookups_total", Help: "Cache lookups of calls that may be kept, by method and result (hit, miss).",
		}, []string{"network", "method", "result"}),
		shared: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_cache_shared_total", Help: "Calls answered by an identical call already in flight, by method.",
		}, []string{"network", "method"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_cache_evictions_total", Help: "Entries evicted to stay under max_bytes, by method.",
		}, []string{"network", "method"}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "evmgate_cache_bytes", Help: "Bytes of keys and answers held in the cache, by method.",
		}, []string{"network", "method"}),
		redis: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_cache_redis_total", Help: "Second-level (Redis) cache operations by result: hit, miss, error, skipped (Redis resting after an error), written, full (refused by redis_max_bytes), dropped (write queue full).",
		}, []string{"result"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.lookups, m.shared, m.evictions, m.bytes, m.redis} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cache metrics: %w", err)
		}
	}
	return m, nil
}
