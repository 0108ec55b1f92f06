package consistent

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/maypok86/otter/v2"
)

// Defaults of Settings.
const (
	DefaultMaxClients = 100_000
	DefaultTTL        = 10 * time.Minute
	DefaultPinFor     = time.Minute
	// MaxIDLength bounds a client id, so that the table's memory is bounded
	// by MaxClients alone.
	MaxIDLength = 128
	// maxWrites is how many recent transactions a client's state keeps.
	maxWrites = 8
)

// ErrIDTooLong is the answer to a client id over MaxIDLength bytes.
var ErrIDTooLong = fmt.Errorf("X-Client-ID is longer than %d bytes: send a shorter id", MaxIDLength)

// Settings are a network's consistent-read settings.
type Settings struct {
	// MaxClients bounds how many clients are tracked; past it the least
	// used are forgotten.
	MaxClients int
	// TTL forgets a client after this long without a call.
	TTL time.Duration
	// PinFor is how long a transaction's lookups stay on the node that
	// accepted it.
	PinFor time.Duration
}

func (s Settings) withDefaults() Settings {
	if s.MaxClients <= 0 {
		s.MaxClients = DefaultMaxClients
	}
	if s.TTL <= 0 {
		s.TTL = DefaultTTL
	}
	if s.PinFor <= 0 {
		s.PinFor = DefaultPinFor
	}
	return s
}

// Tracker holds the state of a network's clients. It is safe for
// concurrent use.
type Tracker struct {
	set     Settings
	clients *otter.Cache[string, *Client]
}

// New returns a tracker bounded by set.
func New(set Settings) (*Tracker, error) {
	set = set.withDefaults()
	c, err := otter.New(&otter.Options[string, *Client]{
		MaximumSize:      set.MaxClients,
		ExpiryCalculator: otter.ExpiryAccessing[string, *Client](set.TTL),
	})
	if err != nil {
		return nil, fmt.Errorf("making the client table: %w", err)
	}
	return &Tracker{set: set, clients: c}, nil
}

// Settings returns the tracker's settings, defaults filled in.
func (t *Tracker) Settings() Settings { return t.set }

// Len returns about how many clients are tracked.
func (t *Tracker) Len() int { return t.clients.EstimatedSize() }

// Client returns the state of the client with id, made on its first call.
func (t *Tracker) Client(id string) (*Client, error) {
	if len(id) > MaxIDLength {
		return nil, ErrIDTooLong
	}
	if id == "" {
		return nil, errors.New("empty client id")
	}
	if c, ok := t.clients.GetIfPresent(id); ok {
		return c, nil
	}
	c, _ := t.clients.SetIfAbsent(id, &Client{pinFor: t.set.PinFor})
	return c, nil
}

// Client is one client's state.
type Client struct {
	pinFor time.Duration
	head   atomic.Uint64 // the highest head served to the client

	mu     sync.Mutex // mu protects writes and next
	writes [maxWrites]write
	next   int
}

// write is a transaction the client sent, and the node that took it.
type write struct {
	hash  string
	node  *upstream.Node
	at    time.Time
	mined uint64 // the block its receipt named + 1; 0 while not seen mined
}

// Head returns the highest head the client has been served (0: none yet).
func (c *Client) Head() uint64 { return c.head.Load() }

// Served records that the client was served the chain at head.
func (c *Client) Served(head uint64) {
	for {
		cur := c.head.Load()
		if head <= cur || c.head.CompareAndSwap(cur, head) {
			return
		}
	}
}

// Wrote records that node n accepted the client's transaction with hash
// (its 0x-prefixed hex, as the node answered it).
func (c *Client) Wrote(hash string, n *upstream.Node, now time.Time) {
	c.mu.Lock()
	c.writes[c.next] = write{hash: canonical(hash), node: n, at: now}
	c.next = (c.next + 1) % maxWrites
	c.mu.Unlock()
}

// PinnedTx returns, while the pin of the client's transaction with hash
// holds, the node that accepted it and, once its receipt was seen, the
// receipt's block (mined): a node whose head reached that block has it
// too. n is nil for a transaction the client did not send, or once the
// pin ended.
func (c *Client) PinnedTx(hash string, now time.Time) (n *upstream.Node, block uint64, mined bool) {
	hash = canonical(hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.writes {
		w := &c.writes[i]
		if w.node == nil || w.hash != hash || now.Sub(w.at) >= c.pinFor {
			continue
		}
		return w.node, max(w.mined, 1) - 1, w.mined > 0
	}
	return nil, 0, false
}

// Mined records that the client's transaction with hash has a receipt in
// block: from now on every node at that height has it too.
func (c *Client) Mined(hash string, block uint64) {
	hash = canonical(hash)
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.writes {
		if w := &c.writes[i]; w.node != nil && w.hash == hash {
			w.mined = block + 1
		}
	}
}

// PinnedLast returns the node that accepted the client's newest
// transaction, while its pin holds; nil otherwise.
func (c *Client) PinnedLast(now time.Time) *upstream.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &c.writes[(c.next+maxWrites-1)%maxWrites]
	if w.node != nil && now.Sub(w.at) < c.pinFor {
		return w.node
	}
	return nil
}

// canonical lowercases a hex hash so both spellings find the same write.
func canonical(h string) string {
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'F' || c == 'X' {
			b := []byte(h)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return h
}
