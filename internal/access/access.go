package access

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/sched"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Access checks callers. Its methods may be called concurrently; the
// request path reads one immutable snapshot and takes no lock except the
// local limiter's.
type Access struct {
	snap       atomic.Pointer[snapshot]
	gens       atomic.Uint64 // numbers the snapshots (snapshot.gen)
	local      *local
	shared     *shared // nil: limits are local
	failClosed bool
	log        *slog.Logger
	m          *metrics
	now        func() time.Time

	mu      sync.Mutex // protects cfg, runtime, unread; serialises rebuilds
	unread  bool       // the key store has not given the runtime keys since the start
	cfg     Config
	runtime []storedKey // keys created through the admin API
	store   keyStore    // nil: no runtime keys
	nets    func() []string
	warned  atomic.Bool // the fail-open warning was logged since Redis last answered
	// redisDownUntil (unix ns): after a failure, the shared store is not
	// asked until then.
	redisDownUntil atomic.Int64
	cancel         context.CancelFunc // stops Start's re-reads
	wg             sync.WaitGroup     // Start's goroutine
}

// redisRest is how long the shared store is left alone after a failure.
const redisRest = time.Second

var errRedisResting = errors.New("the shared rate-limit store failed within the last second")

// snapshot is the compiled configuration.
type snapshot struct {
	// gen is the snapshot's number: a caller identified under it needs no
	// new check while it is current (see Recheck).
	gen     uint64
	keys    map[[32]byte]*Key
	revoked map[[32]byte]string // name of each revoked runtime key
	require bool
	// unread: the key store has not given the runtime keys yet, and they
	// alone could make access keyed (require_key unset): calls without a
	// key wait for them (errKeysUnread) rather than go unchecked.
	unread   bool
	global   policy
	nets     map[string]*netPolicy
	costs    map[string]int
	perIP    Limit
	trusted  []netip.Prefix
	cors     []string
	keyCORS  map[string]bool // every key's origins: a preflight may carry no key
	jwt      *verifier
	anyCheck bool // anything beyond the default method policy
}

type netPolicy struct {
	methods policy
	cors    []string
}

// Options are New's dependencies besides the configuration.
type Options struct {
	// Redis, when set with Config.SharedLimits, holds the shared limits.
	Redis  redis.UniversalClient
	Prefix string // Redis key prefix, e.g. "evmgate:"
	// Store keeps runtime keys (admin API); nil turns that off.
	Store keyStore
	// Networks names the served networks, to check a runtime key's.
	Networks func() []string
}

// New builds access checks from a defaulted, validated configuration.
// Collectors are registered on reg.
func New(cfg Config, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Access, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	a := &Access{local: newLocal(), log: log.With("component", "access"), m: m, now: time.Now, store: opts.Store, nets: opts.Networks}
	if cfg.SharedLimits && opts.Redis != nil {
		a.shared = &shared{rdb: opts.Redis, prefix: opts.Prefix}
	}
	a.failClosed = cfg.RedisFailMode == "closed"
	if err := a.SetConfig(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// SetConfig replaces the configuration (a reload). Buckets are kept.
func (a *Access) SetConfig(cfg Config) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := build(cfg, a.runtime)
	if err != nil {
		return err
	}
	a.cfg = cfg
	a.publish(a.marked(s))
	return nil
}

// publish makes s the current snapshot under a new number. The caller
// holds mu.
func (a *Access) publish(s *snapshot) {
	s.gen = a.gens.Add(1)
	a.snap.Store(s)
}

// marked sets s.unread from what the key store has given. The caller
// holds mu.
func (a *Access) marked(s *snapshot) *snapshot {
	s.unread = a.unread && a.cfg.RequireKey == nil && !s.require
	return s
}

// HasKeys reports whether any API key is defined (live or revoked): only
// then is /<network>/<key> read as a key in the path.
func (a *Access) HasKeys() bool {
	s := a.snap.Load()
	return len(s.keys) > 0 || len(s.revoked) > 0
}

// Open reports whether any client may call without a key.
func (a *Access) Open() bool { return !a.snap.Load().require }

func build(cfg Config, runtime []storedKey) (*snapshot, error) {
	s := &snapshot{keys: map[[32]byte]*Key{}, revoked: map[[32]byte]string{}, global: compilePolicy(cfg.Methods),
		nets: map[string]*netPolicy{}, costs: cfg.Costs, perIP: cfg.PerIP, cors: cfg.CORSOrigins, keyCORS: map[string]bool{}}
	add := func(k *Key) error {
		if _, dup := s.keys[k.hash]; dup {
			return fmt.Errorf("access: key %q has the same secret as another key: give each key its own", k.Name)
		}
		s.keys[k.hash] = k
		for _, o := range k.corsOrigins {
			s.keyCORS[o] = true
		}
		return nil
	}
	for _, spec := range cfg.Keys {
		k, err := compile(spec, "k:")
		if err != nil {
			return nil, fmt.Errorf("access: %w", err)
		}
		if err := add(k); err != nil {
			return nil, err
		}
	}
	for _, rk := range runtime {
		if rk.Revoked {
			s.revoked[rk.hash] = rk.Spec.Name
			continue
		}
		k, err := compile(rk.Spec, "k:")
		if err != nil {
			return nil, fmt.Errorf("access: runtime %w", err)
		}
		k.hash = rk.hash
		if err := add(k); err != nil {
			return nil, err
		}
	}
	for name, n := range cfg.Networks {
		s.nets[name] = &netPolicy{methods: compilePolicy(n.Methods), cors: n.CORSOrigins}
	}
	for _, c := range cfg.TrustedProxies {
		p, err := parsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("access.trusted_proxies: %q: %w", c, err)
		}
		s.trusted = append(s.trusted, p)
	}
	if cfg.JWT.Enabled() {
		v, err := newVerifier(cfg.JWT)
		if err != nil {
			return nil, err
		}
		s.jwt = v
	}
	s.require = len(s.keys) > 0 || len(s.revoked) > 0 || s.jwt != nil
	if cfg.RequireKey != nil {
		s.require = *cfg.RequireKey
	}
	s.anyCheck = s.require || len(s.keys) > 0 || s.jwt != nil || s.perIP.Rate > 0
	return s, nil
}

// Caller is who sent a request: an API key, a token's settings, or
// nobody (Key nil) on an open gateway.
type Caller struct {
	Key *Key
	ip  netip.Addr
	gen uint64 // the snapshot it was identified under
	// token is the JWT it gave, kept to verify it again when the
	// configuration changes under a connection it opened.
	token string
}

// Name is the caller's key or token name ("" when anonymous): the client
// identity other layers report.
func (c *Caller) Name() string {
	if c == nil || c.Key == nil {
		return ""
	}
	return c.Key.Name
}

// Class is the priority class of c's call carrying h (see Key.Class).
func (c *Caller) Class(h Header) sched.Class {
	if c == nil {
		return sched.ClassFrom(h)
	}
	return c.Key.Class(h)
}

// Header reads a request header's first value ("" when absent):
// http.Header, or a reader of another server's request.
type Header interface{ Get(key string) string }

// Request is what the checks read of a client request.
type Request interface {
	Header
	// Values are all the values of a header (X-Forwarded-For, Forwarded).
	Values(key string) []string
	// RemoteAddr is the address of the connection's peer.
	RemoteAddr() netip.Addr
}

// stdRequest is a net/http request as a Request.
type stdRequest struct{ r *http.Request }

func (s stdRequest) Get(key string) string      { return s.r.Header.Get(key) }
func (s stdRequest) Values(key string) []string { return s.r.Header.Values(key) }
func (s stdRequest) RemoteAddr() netip.Addr     { return addrOf(s.r.RemoteAddr) }

// Identify finds who sends r to network; pathKey is a key found in the
// URL path ("" when none). A refusal is a ready JSON-RPC error whose code
// maps to 401 or 403.
func (a *Access) Identify(r *http.Request, network, pathKey string) (*Caller, *jsonrpc.Error) {
	return a.IdentifyRequest(stdRequest{r}, network, pathKey)
}

// IdentifyRequest is Identify for a request of any server.
func (a *Access) IdentifyRequest(r Request, network, pathKey string) (*Caller, *jsonrpc.Error) {
	s := a.snap.Load()
	c := anonymous
	if s.perIP.Rate > 0 {
		c = &Caller{ip: clientIP(r, s.trusted), gen: s.gen}
	}
	secret, bearer := pathKey, false
	if secret == "" {
		secret = r.Get("X-API-Key")
	}
	if secret == "" {
		if v, ok := cutBearer(r.Get("Authorization")); ok {
			secret, bearer = v, true
		}
	}
	var k *Key
	var e *jsonrpc.Error
	var token string
	switch {
	case secret == "" && s.require:
		e = errMissing
	case secret == "" && s.unread:
		e = errKeysUnread
	case secret == "":
		return c, nil
	case bearer && s.jwt != nil && looksLikeJWT(secret):
		k, e = s.jwt.verify(secret)
		token = secret
	default:
		k, e = s.lookup(secret, a.now())
	}
	if e == nil && !k.AllowsNetwork(network) {
		e = errNetwork(k.Name, network)
	}
	if e != nil {
		a.m.refused(e.Code)
		return nil, e
	}
	if c == anonymous {
		return &Caller{Key: k, gen: s.gen, token: token}, nil
	}
	c.Key, c.gen, c.token = k, s.gen, token
	return c, nil
}

// anonymous is the caller without a key where no per-IP limit applies;
// it is never changed.
var anonymous = &Caller{}

func (s *snapshot) lookup(secret string, now time.Time) (*Key, *jsonrpc.Error) {
	h := Hash(secret)
	k := s.keys[h]
	if k == nil || subtle.ConstantTimeCompare(k.hash[:], h[:]) != 1 {
		if name, ok := s.revoked[h]; ok {
			return nil, errRevoked(name)
		}
		return nil, errUnknownKey
	}
	if k.Expired(now) {
		return nil, errExpired(k.Name, k.expires)
	}
	return k, nil
}

func cutBearer(v string) (string, bool) {
	if len(v) > 7 && (v[:7] == "Bearer " || v[:7] == "bearer ") {
		return v[7:], true
	}
	return "", false
}

// Method checks that c may call method on network: nil when it may.
func (a *Access) Method(c *Caller, network, method string) *jsonrpc.Error {
	s := a.snap.Load()
	var np, kp *policy
	if n := s.nets[network]; n != nil {
		np = &n.methods
	}
	if c != nil && c.Key != nil {
		kp = &c.Key.methods
	}
	if methodAllowed(method, &s.global, np, kp) {
		return nil
	}
	if kp != nil && kp.judge(method) == denied {
		a.m.refused(jsonrpc.CodeForbidden)
		return errKeyMethod(c.Key.Name, method)
	}
	a.m.refused(jsonrpc.CodeMethodNotOffered)
	return errNotOffered(method)
}

// Cost is the compute units of one call of method by c.
func (a *Access) Cost(c *Caller, method string) int {
	if c != nil && c.Key != nil {
		if v, ok := c.Key.costs[method]; ok {
			return v
		}
	}
	if v, ok := a.snap.Load().costs[method]; ok {
		return v
	}
	return 1
}

// Take charges cost units to c's limits and quota. On refusal it returns
// the error to answer and how long to wait (Retry-After).
func (a *Access) Take(ctx context.Context, c *Caller, cost int) (time.Duration, *jsonrpc.Error) {
	s := a.snap.Load()
	if c == nil || cost <= 0 {
		return 0, nil
	}
	var ch charge
	ch.cost = cost
	if k := c.Key; k != nil {
		ch.add(bucket{id: k.bucket, limit: k.limit})
		if k.dailyQuota > 0 {
			ch.quotaID, ch.quota, ch.name = k.bucket, k.dailyQuota, k.Name
		}
	}
	if s.perIP.Rate > 0 && c.ip.IsValid() {
		ch.add(bucket{ip: c.ip, limit: s.perIP})
	}
	if ch.n == 0 && ch.quotaID == "" {
		return 0, nil
	}
	for i := range ch.n {
		if b := &ch.buckets[i]; cost > b.limit.Burst {
			a.m.refused(jsonrpc.CodeRateLimited)
			return time.Second, errTooCostly(a.who(c, i, &ch), cost, b.limit.Burst)
		}
	}
	out, err := a.takeFrom(ctx, &ch)
	if err != nil {
		a.m.refused(jsonrpc.CodeLimiterUnavailable)
		return time.Second, errLimiter
	}
	switch {
	case out.ok:
		return 0, nil
	case out.quota:
		a.m.refused(jsonrpc.CodeQuotaExceeded)
		return out.retry, errQuota(ch.name, out.retry)
	}
	a.m.refused(jsonrpc.CodeRateLimited)
	return out.retry, errRateLimited(a.who(c, out.which, &ch), out.retry)
}

func (a *Access) who(c *Caller, i int, ch *charge) string {
	if c.Key != nil && i == 0 && ch.buckets[0].id == c.Key.bucket {
		return "API key " + strconv.Quote(c.Key.Name)
	}
	return "this client IP"
}

// takeFrom asks the shared limiter, or the local one; while Redis fails,
// fail-open counts locally and fail-closed refuses.
func (a *Access) takeFrom(ctx context.Context, ch *charge) (outcome, error) {
	now := a.now()
	if a.shared == nil {
		return a.local.take(ctx, ch, now)
	}
	var err error = errRedisResting
	if now.UnixNano() >= a.redisDownUntil.Load() {
		var out outcome
		if out, err = a.shared.take(ctx, ch, now); err == nil {
			a.warned.Store(false)
			return out, nil
		}
		// Do not wait on a dead store for every call: rest a moment.
		a.redisDownUntil.Store(now.Add(redisRest).UnixNano())
		a.m.redisErrors.Inc()
	}
	if !a.warned.Swap(true) {
		mode := "fail-open: limits are counted by this replica alone meanwhile"
		if a.failClosed {
			mode = "fail-closed: calls are refused with 503 meanwhile"
		}
		a.log.Warn("shared rate limits unavailable", "err", err, "mode", mode)
	}
	if a.failClosed {
		return outcome{}, err
	}
	return a.local.take(ctx, ch, now)
}

type callerKey struct{}

// WithCaller returns ctx carrying c: a WebSocket connection's calls carry
// the caller identified at the upgrade.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller ctx carries, or nil.
func CallerFrom(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
