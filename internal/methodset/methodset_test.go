package methodset

import "testing"

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
	p := Lists{Allow: []string{"eth_*", "", "de*bug"}, Deny: []string{"*"}}.Problems()
	if len(p) != 2 || p[0].Key != "allow[1]" || p[1].Key != "allow[2]" {
		t.Fatalf("problems = %+v, want allow[1] and allow[2] (a lone * is a prefix of everything)", p)
	}
}

func TestFilterEqual(t *testing.T) {
	a := NewFilter(Lists{Deny: []string{"trace_*"}})
	if !a.Equal(NewFilter(Lists{Deny: []string{"trace_*"}})) || a.Equal(NewFilter(Lists{Allow: []string{"trace_*"}})) ||
		a.Equal(nil) || !(*Filter)(nil).Equal(NewFilter(Lists{})) {
		t.Fatal("filters are equal exactly when compiled from the same lists")
	}
}
