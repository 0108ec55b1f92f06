package engine

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestPayloadMapExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := newPayloadMap(time.Minute, 10, clock.Now, nil)
	a := []build{{id: json.RawMessage(`"0x01"`)}}
	id, err := m.put(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 18 || !strings.HasPrefix(id, "0x") || !isHexData(id) {
		t.Fatalf("id %q is not 8 bytes of hex data", id)
	}
	if got, ok := m.get(id); !ok || string(got[0].id) != `"0x01"` {
		t.Fatalf("get(%s) = %v %v", id, got, ok)
	}
	if _, ok := m.get(strings.ToUpper(id[2:])); ok {
		t.Fatal("an id without 0x must not match")
	}
	if _, ok := m.get("0x" + strings.ToUpper(id[2:])); !ok {
		t.Fatal("ids are hex: case must not matter")
	}
	if _, ok := m.get(id); !ok {
		t.Fatal("a delivered id must stay until it expires")
	}
	clock.Advance(59 * time.Second)
	if _, ok := m.get(id); !ok {
		t.Fatal("expired too early")
	}
	clock.Advance(time.Second)
	if _, ok := m.get(id); ok {
		t.Fatal("entry outlived its TTL")
	}
	if m.len() != 0 {
		t.Fatalf("len = %d after expiry", m.len())
	}
}

func TestPayloadMapBounded(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Unix(1000, 0)}
	m := newPayloadMap(time.Hour, 3, clock.Now, nil)
	var ids []string
	seen := map[string]bool{}
	for range 5 {
		id, err := m.put(nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("id %s handed out twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
		clock.Advance(time.Second)
	}
	if m.len() != 3 {
		t.Fatalf("len = %d, want the bound 3", m.len())
	}
	for i, id := range ids {
		_, ok := m.get(id)
		if want := i >= 2; ok != want {
			t.Fatalf("entry %d present = %v, want %v (oldest evicted first)", i, ok, want)
		}
	}
}

// zeroThenCount returns zero bytes first, then distinct ones: a collision on
// the first draw must be retried.
type zeroThenCount struct{ n byte }

func (r *zeroThenCount) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0
	}
	if r.n > 1 {
		p[0] = r.n
	}
	r.n++
	return len(p), nil
}

func TestPayloadMapCollision(t *testing.T) {
	t.Parallel()
	m := newPayloadMap(time.Hour, 10, nil, &zeroThenCount{})
	a, _ := m.put(nil)
	b, _ := m.put(nil) // draws zero again, then 0x02...
	if a == b {
		t.Fatalf("collision not retried: %s", a)
	}
}
