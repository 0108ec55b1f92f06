package consistent

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

func TestServedHeadOnlyRises(t *testing.T) {
	tr, err := New(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := tr.Client("alice")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range uint64(1000) {
				c.Served(h*8 + uint64(i))
			}
		}()
	}
	wg.Wait()
	if c.Head() != 999*8+7 {
		t.Fatalf("head = %d, want %d", c.Head(), 999*8+7)
	}
	c.Served(5)
	if c.Head() != 999*8+7 {
		t.Fatal("a lower head lowered the client's")
	}
	if again, _ := tr.Client("alice"); again != c {
		t.Fatal("the same id gave another client")
	}
}

func TestPinsHoldForPinFor(t *testing.T) {
	tr, _ := New(Settings{PinFor: time.Minute})
	c, _ := tr.Client("bob")
	a, b := upstream.New(upstream.Spec{Name: "a"}), upstream.New(upstream.Spec{Name: "b"})
	now := time.Now()
	c.Wrote("0xAB01", a, now)
	c.Wrote("0xcd02", b, now.Add(time.Second))
	if n, _, _ := c.PinnedTx("0xab01", now); n != a {
		t.Fatalf("PinnedTx(0xab01) = %v, want a (hex case aside)", n)
	}
	c.Mined("0xCD02", 77)
	if n, block, mined := c.PinnedTx("0xcd02", now); n != b || block != 77 || !mined {
		t.Fatalf("after its receipt: PinnedTx = %v, %d, %v; want b, mined at 77", n, block, mined)
	}
	if n := c.PinnedLast(now.Add(2 * time.Second)); n != b {
		t.Fatalf("PinnedLast = %v, want b", n)
	}
	if n, _, _ := c.PinnedTx("0xab01", now.Add(time.Minute)); n != nil {
		t.Fatal("a pin outlived PinFor")
	}
	if n, _, _ := c.PinnedTx("0xffff", now); n != nil {
		t.Fatal("an unknown hash is pinned")
	}
	for i := range maxWrites {
		c.Wrote("0x0"+strings.Repeat("1", i+1), b, now)
	}
	if n, _, _ := c.PinnedTx("0xab01", now); n != nil {
		t.Fatal("the table keeps more than maxWrites transactions")
	}
}

func TestClientTableIsBounded(t *testing.T) {
	tr, _ := New(Settings{MaxClients: 100})
	for i := range 1000 {
		if _, err := tr.Client("client-" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + time.Duration(i).String()); err != nil {
			t.Fatal(err)
		}
	}
	tr.clients.CleanUp()
	if n := tr.Len(); n > 100 {
		t.Fatalf("%d clients kept, want at most 100", n)
	}
	if _, err := tr.Client(strings.Repeat("x", MaxIDLength+1)); err != ErrIDTooLong {
		t.Fatalf("a long id: %v, want ErrIDTooLong", err)
	}
}

func TestClientsExpire(t *testing.T) {
	tr, _ := New(Settings{TTL: time.Second})
	c, _ := tr.Client("carol")
	c.Served(10)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if again, _ := tr.Client("carol"); again.Head() == 0 {
			return // forgotten: a new client
		}
		if time.Now().After(deadline) {
			t.Fatal("the client outlived its TTL")
		}
		// A fresh lookup refreshes the entry: wait past the TTL without one.
		time.Sleep(1500 * time.Millisecond)
	}
}

// BenchmarkClientCall is the per-call work of a named client: finding its
// state, reading its head for the pick and recording the head served.
func BenchmarkClientCall(b *testing.B) {
	tr, _ := New(Settings{})
	for i := range 10_000 {
		tr.Client("client-" + time.Duration(i).String())
	}
	id := "client-" + time.Duration(5000).String()
	b.ReportAllocs()
	var h uint64
	for b.Loop() {
		c, _ := tr.Client(id)
		h = c.Head() + 1
		c.Served(h)
	}
}
