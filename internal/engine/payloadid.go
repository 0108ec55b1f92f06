package engine

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"
)

// Payload ids are EL-specific (execution-apis paris.md), so the gateway hands
// the consensus client an 8-byte id of its own and remembers, per id, which
// node builds under which of its own ids. Entries expire: the spec has an EL
// stop building 12 s after the slot starts, and a consensus client that asks
// for building but never fetches the payload must not grow the map.
const (
	payloadTTL     = time.Minute
	payloadMaxKeep = 256
)

// build is one node's share of a payload build.
type build struct {
	node *node
	id   json.RawMessage // the node's payloadId, as the JSON string it sent
}

type payloadEntry struct {
	id      string
	created time.Time
	builds  []build
}

// payloadMap maps the gateway's payload ids to the nodes' ones. It is safe
// for concurrent use.
type payloadMap struct {
	ttl  time.Duration
	max  int
	now  func() time.Time
	rand io.Reader

	mu      sync.Mutex // protects entries and order
	entries map[string]*payloadEntry
	order   []*payloadEntry // oldest first
}

func newPayloadMap(ttl time.Duration, maxKeep int, now func() time.Time, rnd io.Reader) *payloadMap {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &payloadMap{ttl: ttl, max: maxKeep, now: now, rand: rnd, entries: map[string]*payloadEntry{}}
}

// put stores builds under a new id and returns it ("0x" + 16 hex digits).
func (m *payloadMap) put(builds []build) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now)
	var b [8]byte
	var id string
	for {
		if _, err := io.ReadFull(m.rand, b[:]); err != nil {
			return "", err
		}
		id = "0x" + hex.EncodeToString(b[:])
		if _, taken := m.entries[id]; !taken {
			break
		}
	}
	e := &payloadEntry{id: id, created: now, builds: builds}
	m.entries[id] = e
	m.order = append(m.order, e)
	for len(m.order) > m.max {
		delete(m.entries, m.order[0].id)
		m.order[0] = nil
		m.order = m.order[1:]
	}
	return id, nil
}

// get returns the builds of id; a delivered id stays until it expires, since
// the consensus client may ask for the same payload again.
func (m *payloadMap) get(id string) ([]build, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	e, ok := m.entries[strings.ToLower(id)]
	if !ok {
		return nil, false
	}
	return e.builds, true
}

// len returns the number of live entries.
func (m *payloadMap) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	return len(m.entries)
}

// expire drops entries older than the TTL. m.mu must be held.
func (m *payloadMap) expire(now time.Time) {
	n := 0
	for n < len(m.order) && now.Sub(m.order[n].created) >= m.ttl {
		delete(m.entries, m.order[n].id)
		m.order[n] = nil
		n++
	}
	m.order = m.order[n:]
}
