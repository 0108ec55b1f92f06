package upstream_test

import (
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// TestSawHeadRebuildsOnce: a head an answer showed rebuilds the view once;
// a probe sent before that answer, reporting the block below, neither
// lowers the head nor rebuilds the view, nor does the next probe that
// reaches the same head. A probe sent after it still lowers the head.
func TestSawHeadRebuildsOnce(t *testing.T) {
	n := upstream.New(upstream.Spec{Name: "n", URL: "http://127.0.0.1:1/"})
	rebuilds := 0
	n.OnChange(func() { rebuilds++ })
	n.ObserveHead(99, 0, time.Millisecond)
	rebuilds = 0

	n.SawHead(100)
	n.ObserveHead(99, 0, time.Hour) // sent an hour ago: before the answer
	if h := n.Head(); h != 100 {
		t.Fatalf("a probe that raced the answer lowered the head to %d", h)
	}
	n.ObserveHead(100, 0, time.Millisecond)
	if rebuilds != 1 {
		t.Fatalf("view rebuilds for one new block: %d, want 1", rebuilds)
	}

	n.ObserveHead(98, 0, 0) // sent now: the node really went back
	if h := n.Head(); h != 98 || rebuilds != 2 {
		t.Fatalf("after a later probe at 98: head %d, %d rebuilds; want 98, 2", h, rebuilds)
	}
}
