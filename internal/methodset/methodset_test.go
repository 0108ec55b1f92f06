package methodset

import (
	"strings"
	"testing"
)

func TestFilterAdmits(t *testing.T) {
	f := NewFilter(Lists{Allow: []string{"eth_*", "net_version"}, Deny: []string{"eth_sendRawTransaction"}})
	for method, want := range map[string]bool{
		"eth_call":               true,
		"net_version":            true,
		"net_listening":          false, // outside the allow list
		"eth_sendRawTransaction": false, // deny wins
		"debug_traceBlock":       false,
	} {
		if got := f.Admits(method); got != want {
			t.Errorf("Admits(%q) = %v, want %v", method, got, want)
		}
	}
	deny := NewFilter(Lists{Deny: []string{"trace_*"}})
	if deny.Admits("trace_block") || !deny.Admits("eth_call") {
		t.Error("a deny list alone must refuse what it names and admit the rest")
	}
	if NewFilter(Lists{}) != nil || !(*Filter)(nil).Admits("anything") {
		t.Error("empty lists must compile to a nil filter that admits every method")
	}
}

func TestProblems(t *testing.T) {
	p := Lists{Allow: []string{"eth_*", "", "de*bug", "avax.getAtomicTx"}, Deny: []string{"*", "eth_sendRawTransaction ", "debug_?", "trace_{block,call}"}}.Problems()
	var keys []string
	for _, e := range p {
		keys = append(keys, e.Key)
	}
	if want := "allow[1] allow[2] deny[1] deny[2] deny[3]"; strings.Join(keys, " ") != want {
		t.Fatalf("problems at %v, want %s (a lone * is a prefix of everything)", keys, want)
	}
	if !strings.Contains(p[2].Message, `' '`) {
		t.Errorf("a trailing space: %q, want the space named", p[2].Message)
	}
}

func TestFilterEqual(t *testing.T) {
	a := NewFilter(Lists{Deny: []string{"trace_*"}})
	if !a.Equal(NewFilter(Lists{Deny: []string{"trace_*"}})) || a.Equal(NewFilter(Lists{Allow: []string{"trace_*"}})) ||
		a.Equal(nil) || !(*Filter)(nil).Equal(NewFilter(Lists{})) {
		t.Fatal("filters are equal exactly when compiled from the same lists")
	}
}

func TestAdmitsNothing(t *testing.T) {
	for _, c := range []struct {
		lists   Lists
		nothing bool
	}{
		{Lists{}, false},
		{Lists{Allow: []string{}}, false}, // an empty allow list admits every method
		{Lists{Deny: []string{"*"}}, true},
		{Lists{Allow: []string{"eth_call"}, Deny: []string{"*"}}, true},
		{Lists{Allow: []string{"eth_call", "eth_getLogs"}, Deny: []string{"eth_call", "eth_getLogs"}}, true},
		{Lists{Allow: []string{"eth_call", "eth_getLogs"}, Deny: []string{"eth_call"}}, false},
		{Lists{Allow: []string{"eth_call", "eth_get*"}, Deny: []string{"eth_*"}}, true},
		{Lists{Allow: []string{"eth_*"}, Deny: []string{"eth_*"}}, true},
		{Lists{Allow: []string{"eth_*"}, Deny: []string{"eth_call"}}, false}, // a name cannot refuse a prefix
		{Lists{Allow: []string{"eth_*"}, Deny: []string{"eth_get*"}}, false}, // a longer prefix refuses part of it
		{Lists{Deny: []string{"eth_*", "net_*", "web3_*"}}, false},
	} {
		why := c.lists.AdmitsNothing()
		if (why != "") != c.nothing {
			t.Errorf("%+v: AdmitsNothing() = %q, want admits nothing: %v", c.lists, why, c.nothing)
		}
		// Checked against the filter itself on the names the lists hold.
		if f := NewFilter(c.lists); why != "" {
			for _, m := range append(append([]string{"eth_call", "eth_getLogs", "net_version"}, c.lists.Allow...), c.lists.Deny...) {
				if f.Admits(strings.TrimSuffix(m, "*")+"x") || f.Admits(m) {
					t.Errorf("%+v: said to admit nothing, but admits %q", c.lists, m)
				}
			}
		}
	}
}

func TestLongestLookup(t *testing.T) {
	l := NewLongest(map[string]int{"debug_*": 1, "debug_trace*": 2, "debug_traceCall": 3, "*": 4, "eth_getLogs": 5})
	for method, want := range map[string]int{
		"debug_traceCall":        3, // its own name wins over every prefix
		"debug_traceTransaction": 2, // the longest prefix
		"debug_getRawBlock":      1,
		"eth_getLogs":            5,
		"eth_call":               4, // a lone * matches every method
	} {
		if got, ok := l.Lookup(method); !ok || got != want {
			t.Errorf("Lookup(%q) = %d, %v; want %d", method, got, ok, want)
		}
	}
	if v, ok := NewLongest(map[string]int{"trace_*": 1}).Lookup("eth_call"); ok || v != 0 {
		t.Errorf("a method no entry matches: %d, %v; want 0, false", v, ok)
	}
	var none *Longest[int]
	if NewLongest(map[string]int{}) != nil {
		t.Error("no entries must compile to nil")
	}
	if _, ok := none.Lookup("eth_call"); ok {
		t.Error("a nil Longest matches nothing")
	}
}
