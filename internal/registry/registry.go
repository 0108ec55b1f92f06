package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Applier is the gateway side of the registry: it runs the node sets.
// Apply and Admit may be called from the registry's goroutines and from
// admin requests; calls to Apply never overlap, and Apply must not call
// the registry's Add or Remove (it runs under the registry's sync lock).
// Admit runs outside any lock and may take seconds.
type Applier interface {
	// Apply replaces the runtime node set of a network: configured nodes
	// in configuration order, then added nodes in the order they were
	// added. It should install every node it can and return an error
	// naming those it could not; a node that does not answer is not an
	// error (health checks handle it).
	Apply(network string, nodes []Node) error
	// Admit checks a candidate before it is added: valid URL, reachable,
	// eth_chainId equal to the network's. Its error says why not, for the
	// operator.
	Admit(ctx context.Context, n Node) error
	// Networks names the networks, in configuration order.
	Networks() []string
}

// Errors of Add and Remove, to be matched with errors.Is.
var (
	ErrUnknownNetwork = errors.New("unknown network")
	ErrInvalid        = errors.New("invalid node")
	ErrRejected       = errors.New("node rejected")
	ErrDuplicate      = errors.New("node already present")
	ErrNotFound       = errors.New("node not found")
	ErrUnavailable    = errors.New("node registry store unavailable")
	ErrNotApplied     = errors.New("change stored but not applied")
)

// admitTimeout bounds the admission check of one candidate node.
const admitTimeout = 15 * time.Second

// startTimeout bounds the first read of the store in Start.
const startTimeout = 3 * time.Second

// Registry holds the runtime node set of every network.
type Registry struct {
	cfg     Config
	applier Applier
	log     *slog.Logger
	metrics *metrics
	cat     atomic.Pointer[Catalog] // the networks and configured nodes; Reload swaps it

	store store
	rs    *redisStore // rs is store when Redis is used, else nil
	cache string      // state file kept as a copy of Redis, or ""

	// syncMu serialises reading the store and applying what was read, so
	// that an older read never overwrites a newer one.
	syncMu   sync.Mutex
	applied  map[string][]Node // syncMu protects applied, applyErr and reapply
	applyErr map[string]error  // the last Apply's error of each network
	// reapply makes the next install apply every network, its set changed
	// or not: after a reload the settings of its nodes may have.
	reapply bool

	mu      sync.Mutex // mu protects st and storeUp
	st      *state
	storeUp bool

	kick   chan struct{}
	ps     *redis.PubSub // the change subscription, once started
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds a registry over the configured nodes (seed, by network, in
// configuration order). cfg must have passed Default and Validate. Nothing
// is read or applied until Start.
func New(cfg Config, seed map[string][]Node, a Applier, log *slog.Logger, reg prometheus.Registerer) (*Registry, error) {
	r := &Registry{
		cfg: cfg, applier: a, log: log.With("component", "registry"),
		applied: map[string][]Node{}, applyErr: map[string]error{}, st: newState(), kick: make(chan struct{}, 1),
	}
	cat, err := r.Prepare(a.Networks(), seed)
	if err != nil {
		return nil, err
	}
	r.cat.Store(cat)
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering registry metrics: %w", err)
	}
	r.metrics = m
	if cfg.RedisURL == "" {
		r.store = newLocalStore(cfg.StateFile)
		return r, nil
	}
	r.rs, err = newRedisStore(cfg, func() []string { return r.catalog().networks }, r.log)
	if err != nil {
		return nil, err
	}
	r.store, r.cache = r.rs, cfg.StateFile
	return r, nil
}

// Start, called once, reads the runtime changes, applies every network's node set once,
// and with Redis starts following changes. A Redis that cannot be reached
// is not an error: the registry applies the configured nodes (and the
// state file's copy, if any), and catches up in the background. A node
// that is down is not an error either: Start never contacts nodes.
func (r *Registry) Start(ctx context.Context) error {
	if r.cache != "" {
		if st, err := readStateFile(r.cache); err != nil {
			r.log.Warn("ignoring the state file copy of redis", "err", err)
		} else {
			r.setState(st)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	err := r.sync(sctx)
	cancel()
	switch {
	case err == nil:
	case r.rs == nil:
		return fmt.Errorf("starting node registry: %w", err)
	default:
		r.log.Warn("redis unreachable at start; serving the configured and last known nodes", "redis", r.rs.addr, "err", err)
		r.syncMu.Lock()
		r.install(r.state())
		r.syncMu.Unlock()
	}
	if r.rs == nil {
		return nil
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.cancel = stop
	r.ps = r.rs.rdb.Subscribe(bg, r.rs.channel())
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.receive(bg, r.ps) }()
	go func() { defer r.wg.Done(); r.follow(bg) }()
	return nil
}

// Close stops following Redis and waits for the registry's goroutines.
// Start's context does not stop them; Close does.
func (r *Registry) Close() error {
	if r.cancel != nil {
		r.cancel()
		_ = r.ps.Close() // ends a receive blocked on the connection
	}
	r.wg.Wait()
	return r.store.close()
}

// sync reads the store and applies what changed.
func (r *Registry) sync(ctx context.Context) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	st, err := r.store.load(ctx, r.state())
	r.setUp(err == nil)
	if err != nil {
		r.metrics.syncs.WithLabelValues("error").Inc()
		return fmt.Errorf("%w (%s): %w", ErrUnavailable, r.store.describe(), err)
	}
	r.metrics.syncs.WithLabelValues("ok").Inc()
	old := r.setState(st)
	if r.cache != "" && !old.equal(st) {
		if err := writeStateFile(r.cache, st); err != nil {
			r.log.Warn("keeping a copy of redis in the state file", "err", err)
		}
	}
	r.install(st)
	return nil
}

// install applies every network whose set changed or was never applied
// (every network after a reload). Only a set that changed, or whose last
// apply failed, is logged. The caller holds syncMu.
func (r *Registry) install(st *state) {
	cat := r.catalog()
	for _, name := range cat.networks {
		nodes := compose(name, cat.seed[name], st.Networks[name])
		prev, ok := r.applied[name]
		same := ok && slices.Equal(prev, nodes)
		if same && !r.reapply {
			continue
		}
		changed := !same || r.applyErr[name] != nil
		r.applied[name] = nodes
		r.metrics.setNodes(name, nodes)
		err := r.applier.Apply(name, nodes)
		r.applyErr[name] = err
		if err != nil {
			r.metrics.applyErrors.Inc()
			r.log.Error("applying node set", "network", name, "nodes", len(nodes), "err", err)
			continue
		}
		if changed {
			r.log.Info("node set applied", "network", name, "nodes", len(nodes))
		}
	}
	r.reapply = false
}

func (r *Registry) state() *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// setState replaces the state and returns the previous one.
func (r *Registry) setState(st *state) *state {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.st
	r.st = st
	return old
}

// setUp records whether the store answered and logs the transitions.
func (r *Registry) setUp(up bool) {
	r.mu.Lock()
	was := r.storeUp
	r.storeUp = up
	r.mu.Unlock()
	r.metrics.setUp(up)
	if r.rs != nil && up && !was {
		r.log.Info("redis reachable", "redis", r.rs.addr)
	}
	if r.rs != nil && !up && was {
		r.log.Warn("redis unreachable; keeping the last known node set", "redis", r.rs.addr)
	}
}

// Nodes returns network's runtime node set.
func (r *Registry) Nodes(network string) ([]Node, error) {
	cat := r.catalog()
	if !slices.Contains(cat.networks, network) {
		return nil, r.unknown(network)
	}
	return compose(network, cat.seed[network], r.state().Networks[network]), nil
}

// DefaultNetwork names the network of prio-load-balancer's /nodes API.
func (r *Registry) DefaultNetwork() string { return r.catalog().def }

func (r *Registry) unknown(network string) error {
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownNetwork, network, strings.Join(r.catalog().networks, ", "))
}
