package balancer

import (
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// nd describes a node for a test: its tier, state and live values.
type nd struct {
	name    string
	tier    upstream.Tier
	state   upstream.State // zero: Up
	head    int64          // -1: no head known
	lat     time.Duration
	load    float64
	weight  int
	maxConc int
}

// local, monitoring and fallback are shorthands for answering nodes.
func local(name string, head int64) nd { return nd{name: name, tier: upstream.Local, head: head} }
func monitoring(name string, head int64) nd {
	return nd{name: name, tier: upstream.Monitoring, head: head}
}
func fallback(name string, head int64) nd { return nd{name: name, tier: upstream.Fallback, head: head} }

func (d nd) withState(s upstream.State) nd  { d.state = s; return d }
func (d nd) withLatency(l time.Duration) nd { d.lat = l; return d }
func (d nd) withLoad(l float64) nd          { d.load = l; return d }
func (d nd) withWeight(w int) nd            { d.weight = w; return d }
func (d nd) withMaxConcurrency(m int) nd    { d.maxConc = m; return d }
func (d nd) withLatencyMS(ms int) nd        { return d.withLatency(time.Duration(ms) * time.Millisecond) }

// build makes an upstream.Node in the described state, through the node's
// exported methods only.
func (d nd) build() *upstream.Node {
	n := upstream.New(upstream.Spec{Name: d.name, Tier: d.tier, URL: "http://127.0.0.1:1", Weight: d.weight, MaxConcurrency: d.maxConc})
	if d.head >= 0 {
		lat := d.lat
		if lat == 0 {
			lat = 10 * time.Millisecond
		}
		n.ObserveHead(uint64(d.head), 0, lat)
	}
	n.SetLoad(d.load)
	state := d.state
	if state == upstream.Unknown {
		state = upstream.Up
	}
	n.SetState(state) // Down and WrongChain forget the head, as in production
	return n
}

func buildAll(ds []nd) []*upstream.Node {
	out := make([]*upstream.Node, len(ds))
	for i, d := range ds {
		out[i] = d.build()
	}
	return out
}

// unknownNode is a node never probed.
func unknownNode(name string, tier upstream.Tier) *upstream.Node {
	return upstream.New(upstream.Spec{Name: name, Tier: tier, URL: "http://127.0.0.1:1"})
}

func names(nodes []*upstream.Node) string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = n.Name
	}
	return strings.Join(s, ",")
}

func byName(t *testing.T, p *Pool, name string) *upstream.Node {
	t.Helper()
	for _, n := range p.Nodes() {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return nil
}

// viewWant is what a test expects of a View; names are comma-joined in order.
type viewWant struct {
	head    uint64
	serving upstream.Tier
	active  string
	backup  string
	rest    string
}

func checkView(t *testing.T, v *View, w viewWant) {
	t.Helper()
	if v.Head != w.head {
		t.Errorf("Head = %d, want %d", v.Head, w.head)
	}
	if w.active != "" && v.Serving != w.serving {
		t.Errorf("Serving = %s, want %s", v.Serving, w.serving)
	}
	if got := names(v.Active); got != w.active {
		t.Errorf("Active = [%s], want [%s]", got, w.active)
	}
	if got := names(v.Backup); got != w.backup {
		t.Errorf("Backup = [%s], want [%s]", got, w.backup)
	}
	if got := names(v.Rest); got != w.rest {
		t.Errorf("Rest = [%s], want [%s]", got, w.rest)
	}
}
