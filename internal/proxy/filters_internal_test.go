package proxy

import (
	"strconv"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// The filter table answers the node that made a filter, per network, until
// the filter has been idle filterIdle; past maxFilters it forgets the
// filters idle longest.
func TestFilterNodes(t *testing.T) {
	var f filterNodes
	a := upstream.New(upstream.Spec{Name: "a", URL: "http://127.0.0.1:1"})
	b := upstream.New(upstream.Spec{Name: "b", URL: "http://127.0.0.1:2"})
	now := time.Now()
	f.put("mainnet", "0x1", a, now)
	f.put("sepolia", "0x1", b, now)
	if f.node("mainnet", "0x1", now) != a || f.node("sepolia", "0x1", now) != b || f.node("mainnet", "0x2", now) != nil {
		t.Fatal("wrong node for a filter")
	}
	if f.node("mainnet", "0x1", now.Add(filterIdle/2)) != a {
		t.Fatal("a filter used within filterIdle was forgotten")
	}
	if f.node("mainnet", "0x1", now.Add(filterIdle/2+filterIdle+time.Second)) != nil {
		t.Fatal("a filter idle past filterIdle is still pinned")
	}
	for i := range maxFilters {
		f.put("mainnet", strconv.Itoa(i), a, now.Add(time.Duration(i)*time.Millisecond))
	}
	f.put("mainnet", "new", b, now.Add(maxFilters*time.Millisecond))
	if len(f.m) > maxFilters/2+2 || f.node("mainnet", "new", now.Add(maxFilters*time.Millisecond)) != b {
		t.Fatalf("after overflowing: %d filters kept, the newest found: %v", len(f.m), f.node("mainnet", "new", now) == b)
	}
}
