package upstream

import (
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/methodset"
	"golang.org/x/time/rate"
)

// Tier is a node's class: local nodes serve first, then monitoring, then
// fallback nodes.
type Tier uint8

const (
	Local Tier = iota
	Monitoring
	Fallback
)

func (t Tier) String() string {
	switch t {
	case Local:
		return "local"
	case Monitoring:
		return "monitoring"
	default:
		return "fallback"
	}
}

// ParseTier reads "local", "monitoring" or "fallback".
func ParseTier(s string) (Tier, bool) {
	switch s {
	case "local", "":
		return Local, true
	case "monitoring":
		return Monitoring, true
	case "fallback":
		return Fallback, true
	}
	return 0, false
}

// State is a node's health.
type State uint32

const (
	// Unknown: not probed yet.
	Unknown State = iota
	// Up: answering and on the network's chain.
	Up
	// Down: failed probes or requests in a row; its head is forgotten.
	Down
	// WrongChain: answers with another chain id; never served.
	WrongChain
	// Syncing: eth_syncing reports an ongoing sync.
	Syncing
	// Stale: its newest block is older than max_block_age.
	Stale
	// Unattested: its TLS certificate failed attestation; never served.
	Unattested
)

var stateNames = [...]string{"unknown", "up", "down", "wrong_chain", "syncing", "stale", "unattested"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "invalid"
}

// States lists every state, for metrics.
var States = []State{Unknown, Up, Down, WrongChain, Syncing, Stale, Unattested}

// Spec is a node's fixed identity.
type Spec struct {
	Name           string // label: never carries credentials
	Network        string
	Tier           Tier
	URL            string // full URL, credentials included
	Source         string // the URL as configured (with ?_workers=N), the node's identity in the registry
	WSURL          string
	PrometheusURL  string
	Headers        http.Header
	Weight         int
	MaxConcurrency int // 0: unlimited
	Gzip           bool
	Timeout        time.Duration // per try
	// Transport, when set, carries the node's calls (e.g. over its shared
	// WebSocket connection) instead of the node's own HTTP client.
	Transport http.RoundTripper
	// Attest, when set, makes the node an attested one: every TLS
	// connection to it (HTTP and WebSocket) is verified during the
	// handshake, before a byte of a call is sent. URL then carries no user
	// info.
	Attest *attest.Node
	// WSTransport, when set, carries the calls whose context asks for the
	// node's WebSocket (ViaWebSocket); other calls keep the HTTP client.
	WSTransport http.RoundTripper
	// State is the node's configured state mode: StateArchive or StateFull
	// (archive: true|false), StateUnknown to detect it.
	State StateMode
	// StateWindow is how many blocks below its head a full node keeps
	// state for (0: DefaultStateWindow).
	StateWindow uint64
	// Methods are the methods the node is sent (nil: all).
	Methods *methodset.Filter
	// RateLimit caps the calls sent to the node (a provider's plan).
	RateLimit RateLimit
	// OnCoolDown, when set, is called when the node starts to cool down
	// after a rate limit answer, for d (see CoolDown); told: another
	// replica met the answer and told this one through the shared bucket.
	OnCoolDown func(n *Node, d time.Duration, told bool)
	// WantLease, when set, is called (it must be cheap and never block)
	// when a node whose rate limit is shared wants tokens from the shared
	// bucket, or has a cool-down to tell: it wakes the leasing loop.
	WantLease func()
}

// Node is one upstream node. Its live state is safe for concurrent use.
type Node struct {
	Spec
	client *http.Client
	fast   *fastClient  // nil: net/http serves the node
	ws     *http.Client // nil: no WSTransport

	head      atomic.Uint64 // last head + 1; 0 when unknown or forgotten
	blockTime atomic.Int64  // unix seconds of the head block
	latency   atomic.Int64  // smoothed probe latency, ns
	answers   PeakEWMA      // time to first byte of every call and probe, failures as penalties
	calls     Rate          // calls placed on the node recently
	load      atomic.Uint64 // host load average, float64 bits
	state     atomic.Uint32
	fails     atomic.Int32 // consecutive failures (probes and requests)
	inFlight  atomic.Int64
	gate      atomic.Uint64 // Gate (the circuit breaker's say) and the calls out (see admit)
	chainID   atomic.Uint64
	onChange  atomic.Pointer[func()]
	reason    atomic.Pointer[string] // why the node is in its state
	stateMode atomic.Uint32          // a StateMode: configured, or detected
	shown     atomic.Uint64          // highest head + 1 an answer of the node showed; 0: none
	sawAt     atomic.Int64           // Now() when an answer last raised head (SawHead)
	missing   missingMethods         // methods it answered "method not found" for
	limiter   *rate.Limiter          // RateLimit's bucket; nil without one
	coolUntil atomic.Int64           // Now() until which a rate limit answer keeps it out
	lease     *lease                 // the tokens held of a shared rate limit; nil unless RateLimit.Shared
	successor atomic.Pointer[Node]   // the node at the same URL that took its place (Inherit); nil: none
}

// New returns a node with its HTTP client.
func New(spec Spec) *Node {
	if spec.Weight <= 0 {
		spec.Weight = 1
	}
	n := &Node{Spec: spec}
	n.stateMode.Store(uint32(spec.State))
	n.limiter = newLimiter(spec.RateLimit)
	n.lease = newLease(spec.RateLimit, spec.WantLease)
	n.client = newClient(spec)
	n.fast = newFastClient(spec)
	if spec.WSTransport != nil {
		n.ws = newClient(Spec{Transport: spec.WSTransport})
	}
	return n
}

// OnChange sets the function called when the node's eligibility may have
// changed (state or head). It must be cheap.
func (n *Node) OnChange(fn func()) { n.onChange.Store(&fn) }

func (n *Node) changed() {
	if fn := n.onChange.Load(); fn != nil {
		(*fn)()
	}
}

// Head returns the node's last known head (0 when unknown).
func (n *Node) Head() uint64 {
	if h := n.head.Load(); h > 0 {
		return h - 1
	}
	return 0
}

// HasHead reports whether the node's head is known (a chain at genesis has
// head 0 and a known head).
func (n *Node) HasHead() bool { return n.head.Load() > 0 }

// BlockTime returns the unix time of the node's head block.
func (n *Node) BlockTime() time.Time { return time.Unix(n.blockTime.Load(), 0) }

// Latency returns the smoothed probe latency (the load_balance_priority
// "latency" criterion and the status report); AnswerTime is what the p2c
// strategy weighs.
func (n *Node) Latency() time.Duration { return time.Duration(n.latency.Load()) }

// Load returns the host load average (0 when not tracked).
func (n *Node) Load() float64 { return math.Float64frombits(n.load.Load()) }

// State returns the node's health.
func (n *Node) State() State { return State(n.state.Load()) }

// InFlight returns the calls in flight on the node.
func (n *Node) InFlight() int64 { return n.inFlight.Load() }

// ChainID returns the chain id the node reported (0 before the first check).
func (n *Node) ChainID() uint64 { return n.chainID.Load() }

// Failures returns the consecutive failures counted so far.
func (n *Node) Failures() int { return int(n.fails.Load()) }

// TryAcquire takes a worker slot when the node has one free and its
// circuit breaker lets a call through (see Gate). The call's outcome must
// then be reported once: Settle, through the breaker, or EndTrial.
func (n *Node) TryAcquire() bool {
	if !n.admit() {
		return false
	}
	if n.MaxConcurrency <= 0 {
		n.inFlight.Add(1)
		return true
	}
	for {
		cur := n.inFlight.Load()
		if cur >= int64(n.MaxConcurrency) {
			n.EndTrial() // no call went: a trial is given back
			return false
		}
		if n.inFlight.CompareAndSwap(cur, cur+1) {
			return true
		}
	}
}

// HasFreeSlot reports whether TryAcquire would succeed now.
func (n *Node) HasFreeSlot() bool {
	if !n.passable() {
		return false
	}
	return n.MaxConcurrency <= 0 || n.inFlight.Load() < int64(n.MaxConcurrency)
}

// Release returns a worker slot.
func (n *Node) Release() { n.inFlight.Add(-1) }

// SetReason records why the node is in its state, for status.
func (n *Node) SetReason(r string) { n.reason.Store(&r) }

// Reason returns why the node is in its state ("" before the first probe).
func (n *Node) Reason() string {
	if r := n.reason.Load(); r != nil {
		return *r
	}
	return ""
}

// SetState changes the node's state and reports whether it changed.
func (n *Node) SetState(s State) bool {
	old := State(n.state.Swap(uint32(s)))
	if old != s {
		if s == Down || s == WrongChain || s == Unattested {
			n.head.Store(0)
			n.shown.Store(0)
		}
		n.changed()
		return true
	}
	return false
}

// SetChainID records the chain id the node reported.
func (n *Node) SetChainID(id uint64) { n.chainID.Store(id) }

// SetLoad records the host load average.
func (n *Node) SetLoad(l float64) { n.load.Store(math.Float64bits(l)) }

// ObserveHead records a probe's head, block time and latency. The latency
// is smoothed (EWMA, alpha 0.3) so one slow probe does not flip the order.
// A probe sent before an answer of the node showed a newer head (SawHead)
// raced that answer: its lower head is not taken, so one new block
// rebuilds the view once, not once more down and once more up.
func (n *Node) ObserveHead(head uint64, blockTime int64, latency time.Duration) {
	if old := n.latency.Load(); old == 0 {
		n.latency.Store(int64(latency))
	} else {
		n.latency.Store(int64(0.7*float64(old) + 0.3*float64(latency)))
	}
	n.blockTime.Store(blockTime)
	for {
		cur := n.head.Load()
		if cur == head+1 || cur > head+1 && Now()-int64(latency) < n.sawAt.Load() {
			return
		}
		if n.head.CompareAndSwap(cur, head+1) {
			n.changed()
			return
		}
	}
}

// SawHead raises the node's known head to head, which one of its answers
// showed (an eth_blockNumber newer than its last probe). An unknown head
// stays unknown: only probes make a node known. The head shown is also
// kept apart (Shown), which no later probe lowers.
func (n *Node) SawHead(head uint64) {
	for {
		cur := n.shown.Load()
		if head+1 <= cur || n.shown.CompareAndSwap(cur, head+1) {
			break
		}
	}
	for {
		cur := n.head.Load()
		if cur == 0 || head+1 <= cur {
			return
		}
		n.sawAt.Store(Now()) // before the head: a racing probe sees both
		if n.head.CompareAndSwap(cur, head+1) {
			n.changed()
			return
		}
	}
}

// Shown returns the highest head the node's answers showed (0: none since
// it was last down).
func (n *Node) Shown() uint64 {
	if s := n.shown.Load(); s > 0 {
		return s - 1
	}
	return 0
}

// Succeeded resets the failure count after a good probe or call.
func (n *Node) Succeeded() { n.fails.Store(0) }

// Failed counts a failure and returns the consecutive count.
func (n *Node) Failed() int { return int(n.fails.Add(1)) }

// Failing reports whether the node's last probe or request failed.
func (n *Node) Failing() bool { return n.fails.Load() > 0 }
