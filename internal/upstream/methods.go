package upstream

import (
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// missingFor is how long a node that answered "method not found" for a
// method is passed over for it. A node's modules change with its restart
// or its provider's plan: an hour costs one wasted try an hour.
const missingFor = time.Hour

// maxMissing bounds the methods a node is remembered not to serve: method
// names come from clients, so a stream of made-up names must not grow it.
const maxMissing = 256

// missingMethods are the methods a node answered "method not found" for,
// each with the time it is tried again.
type missingMethods struct {
	n     atomic.Int32 // len(until): Serves reads it without the lock
	mu    sync.Mutex
	until map[string]int64 // Now() after which the method is tried again
}

// Serves reports whether n may be sent method: its methods lists admit it
// (Admits) and it did not answer "method not found" for it lately (Lacks).
func (n *Node) Serves(method string) bool { return n.Admits(method) && !n.Lacks(method) }

// Admits reports whether n's configured methods lists admit method.
func (n *Node) Admits(method string) bool { return n.Methods.Admits(method) }

// Lacks reports whether n answered "method not found" for method within
// missingFor.
func (n *Node) Lacks(method string) bool {
	m := &n.missing
	if m.n.Load() == 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	until, ok := m.until[method]
	return ok && Now() < until
}

// LearnMissing records that n answered "method not found" for method.
func (n *Node) LearnMissing(method string) {
	m := &n.missing
	now := Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.until == nil {
		m.until = make(map[string]int64)
	}
	if _, ok := m.until[method]; !ok && len(m.until) >= maxMissing {
		// Full: the method learned longest ago makes room, so a stream of
		// made-up names cannot keep a real one from being learned.
		oldest, first := "", int64(math.MaxInt64)
		for k, until := range m.until {
			if until < first {
				oldest, first = k, until
			}
		}
		delete(m.until, oldest)
	}
	m.until[method] = now + int64(missingFor)
	m.n.Store(int32(len(m.until)))
}

// inherit copies old's methods into m, which no one shares yet.
func (m *missingMethods) inherit(old *missingMethods) {
	old.mu.Lock()
	defer old.mu.Unlock()
	if len(old.until) > 0 {
		m.until = maps.Clone(old.until)
		m.n.Store(int32(len(m.until)))
	}
}

// Missing lists, sorted, the methods n is passed over for now because it
// answered "method not found" for them.
func (n *Node) Missing() []string {
	m := &n.missing
	if m.n.Load() == 0 {
		return nil
	}
	now := Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k, until := range m.until {
		if now < until {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// missingMessages are how nodes and providers that use another code say
// that they do not serve a method.
var missingMessages = []string{
	"method not found",
	"method not enabled", // Besu, for a namespace it does not serve
	"method not supported",
	"unsupported method",
	"does not exist/is not available",
}

// MethodMissing reports whether a node's JSON-RPC error says the node does
// not serve the method (not that the call failed): -32601 (JSON-RPC's
// "method not found"), -32004 (EIP-1474's "method not supported"), -32604
// (Besu's "method not enabled"), or a message saying so. A call that reverted (code 3, or "execution reverted"
// with a reason of the contract's choosing) never counts.
func MethodMissing(code int, message string) bool {
	switch code {
	case -32601, -32004, -32604: // -32604: Besu's "method not enabled"
		return true
	case 3:
		return false
	}
	m := strings.ToLower(message)
	return !strings.HasPrefix(m, "execution reverted") && containsAny(m, missingMessages)
}
