package registry

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/upstream"
)

// Tiers, in serving order.
const (
	TierLocal      = "local"
	TierMonitoring = "monitoring"
	TierFallback   = "fallback"
)

// Sources of a node.
const (
	SourceConfig = "config" // from the configuration file
	SourceAdmin  = "admin"  // added at run time through the admin API
)

// Node is one node of a network's runtime set.
type Node struct {
	Network string `json:"network"`
	// URI is the node's JSON-RPC URL exactly as configured or posted,
	// prio-load-balancer's ?_workers=N included. It identifies the node
	// within its network.
	URI  string `json:"uri"`
	Tier string `json:"tier"`
	Name string `json:"name,omitempty"`
	// RateLimit caps the calls sent to a node added through the admin API
	// (a provider's plan), as a configured node's rate_limit does.
	RateLimit upstream.RateLimit `json:"rate_limit,omitzero"`
	Source    string             `json:"source"`
}

// checkURI reports why uri cannot be a node URL.
func checkURI(uri string) error {
	if uri == "" {
		return fmt.Errorf("uri is required")
	}
	if len(uri) > maxURILen {
		return fmt.Errorf("uri is longer than %d bytes", maxURILen)
	}
	if strings.TrimSpace(uri) != uri {
		return fmt.Errorf("uri %q has surrounding white space", nodeurl.Redact(uri))
	}
	// The errors never echo the URI: it may carry an API key, and what
	// cannot be read cannot be redacted either.
	u, err := url.Parse(uri)
	switch {
	case err != nil: // url.Parse's errors quote parts of it (a port, an escape)
		return errors.New("uri is not a URL (a port that is not a number, a bad %-escape or host?): write it as http://host:port/path or https://…")
	case u.Scheme == "":
		return errors.New("uri has no scheme: write it as http://host:port/path or https://…")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("uri's scheme is %q: use http or https", u.Scheme)
	case u.Hostname() == "":
		return errors.New("uri has no host: write it as http://host:port/path or https://…")
	}
	return nil
}

// Limits on what the admin API accepts.
const (
	maxURILen  = 2048
	maxNameLen = 64
)

// checkName reports why name cannot label a node.
func checkName(name string) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("name is longer than %d bytes", maxNameLen)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("name %q has a non-printable character", name)
		}
	}
	return nil
}

// checkTier reports why tier is not a tier.
func checkTier(tier string) error {
	switch tier {
	case TierLocal, TierMonitoring, TierFallback:
		return nil
	}
	return fmt.Errorf("tier %q: must be %s, %s or %s", tier, TierLocal, TierMonitoring, TierFallback)
}

// added is a node added at run time.
type added struct {
	Tier      string             `json:"tier"`
	Name      string             `json:"name,omitempty"`
	RateLimit upstream.RateLimit `json:"rate_limit,omitzero"`
	Seq       int64              `json:"seq"`
}

// changes are the runtime changes of one network: nodes added and nodes
// removed (configured or added before), each by URI. Seq numbers order
// them; when a URI is in both, the higher seq wins.
type changes struct {
	Added   map[string]added
	Removed map[string]int64
}

// state is every network's runtime changes.
type state struct {
	// Epoch names the Redis data set the changes were read from ("" for
	// a local store); see doc.go.
	Epoch    string
	Networks map[string]*changes
}

func newState() *state { return &state{Networks: map[string]*changes{}} }

func (s *state) clone() *state {
	out := &state{Epoch: s.Epoch, Networks: make(map[string]*changes, len(s.Networks))}
	for name, c := range s.Networks {
		out.Networks[name] = &changes{Added: maps.Clone(c.Added), Removed: maps.Clone(c.Removed)}
	}
	return out
}

// net returns the changes of network, creating them.
func (s *state) net(network string) *changes {
	c := s.Networks[network]
	if c == nil {
		c = &changes{}
		s.Networks[network] = c
	}
	if c.Added == nil {
		c.Added = map[string]added{}
	}
	if c.Removed == nil {
		c.Removed = map[string]int64{}
	}
	return c
}

// maxSeq is the highest seq in s.
func (s *state) maxSeq() int64 {
	var m int64
	for _, c := range s.Networks {
		for _, a := range c.Added {
			m = max(m, a.Seq)
		}
		for _, seq := range c.Removed {
			m = max(m, seq)
		}
	}
	return m
}

func (s *state) empty() bool {
	for _, c := range s.Networks {
		if len(c.Added) > 0 || len(c.Removed) > 0 {
			return false
		}
	}
	return true
}

func (s *state) equal(o *state) bool {
	if s.Epoch != o.Epoch || len(s.Networks) != len(o.Networks) {
		return false
	}
	for name, c := range s.Networks {
		d, ok := o.Networks[name]
		if !ok || !maps.Equal(c.Added, d.Added) || !maps.Equal(c.Removed, d.Removed) {
			return false
		}
	}
	return true
}

// compose is a network's runtime set: the configured nodes not removed, in
// configuration order, then the added nodes not removed and not configured,
// in the order they were added.
func compose(network string, seed []Node, c *changes) []Node {
	out := make([]Node, 0, len(seed))
	var removed map[string]int64
	var add map[string]added
	if c != nil {
		removed, add = c.Removed, c.Added
	}
	for _, n := range seed {
		if _, gone := removed[n.URI]; gone {
			if a, ok := add[n.URI]; !ok || a.Seq < removed[n.URI] {
				continue
			}
		}
		out = append(out, n)
	}
	configured := len(out)
	var extra []Node
	seqs := map[string]int64{}
	for uri, a := range add {
		if seq, gone := removed[uri]; gone && seq > a.Seq {
			continue
		}
		if slices.ContainsFunc(seed, func(n Node) bool { return n.URI == uri }) {
			continue
		}
		seqs[uri] = a.Seq
		extra = append(extra, Node{Network: network, URI: uri, Tier: a.Tier, Name: a.Name, RateLimit: a.RateLimit, Source: SourceAdmin})
	}
	slices.SortFunc(extra, func(a, b Node) int {
		return cmp.Or(cmp.Compare(seqs[a.URI], seqs[b.URI]), strings.Compare(a.URI, b.URI))
	})
	out = append(out[:configured], extra...)
	return out
}
