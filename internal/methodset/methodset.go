// Package methodset matches JSON-RPC method names against lists of names
// and prefixes ending in * ("debug_*"): the method policies of client
// access and the methods a node serves.
package methodset

import (
	"fmt"
	"slices"
	"strings"
)

// Lists allows and denies methods; entries are names or prefixes ending in
// * ("debug_*"). Deny wins over allow; a non-empty allow list admits only
// what it names.
type Lists struct {
	Allow []string `yaml:"allow" json:"allow,omitempty"`
	Deny  []string `yaml:"deny" json:"deny,omitempty"`
}

// Problem is an entry of Lists that is not a method or a prefix.
type Problem struct {
	Key     string // "allow[2]"
	Message string
}

// Problems lists the entries that are not a method or a prefix ending in *.
func (l Lists) Problems() []Problem {
	var out []Problem
	check := func(list string, ms []string) {
		for i, m := range ms {
			if msg := PatternProblem(m); msg != "" {
				out = append(out, Problem{fmt.Sprintf("%s[%d]", list, i), msg})
			}
		}
	}
	check("allow", l.Allow)
	check("deny", l.Deny)
	return out
}

// PatternProblem says why m is not a method name or a prefix ending in *
// ("" when it is one).
func PatternProblem(m string) string {
	bad := badChar(m)
	if m != "" && bad == "" {
		return ""
	}
	msg := fmt.Sprintf("%q is not a method or a prefix ending in * (e.g. debug_*)", m)
	if bad != "" {
		msg += ": " + bad + " is not in a method name (letters, digits, _ and .; * only at the end)"
	}
	return msg
}

// badChar names the first character of entry m that no method name holds
// ("": none): a space, a glob's ? or [, a * before the end. Such an entry
// would match nothing, and a deny list with it would refuse nothing.
func badChar(m string) string {
	name := strings.TrimSuffix(m, "*")
	for _, r := range name {
		if !(r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Sprintf("%q", r)
		}
	}
	return ""
}

// AdmitsNothing says why the lists refuse every method, or "" when they
// admit some: deny holds "*", or it matches every entry of a non-empty
// allow list (deny wins). An empty allow list is no list: it admits all.
func (l Lists) AdmitsNothing() string {
	if slices.Contains(l.Deny, "*") {
		return `deny holds "*", which refuses every method`
	}
	if len(l.Allow) == 0 {
		return ""
	}
	deny := Compile(l.Deny)
	for _, a := range l.Allow {
		pre, isPrefix := strings.CutSuffix(a, "*")
		if !isPrefix && !deny.Match(a) {
			return ""
		}
		// A prefix is refused whole only by a shorter or equal deny prefix.
		if isPrefix && !slices.ContainsFunc(deny.prefixes, func(d string) bool { return strings.HasPrefix(pre, d) }) {
			return ""
		}
	}
	return "deny matches every entry of allow (deny wins)"
}

// Empty reports that the lists name nothing.
func (l Lists) Empty() bool { return len(l.Allow) == 0 && len(l.Deny) == 0 }

// Patterns matches method names against names and prefixes ending in *.
type Patterns struct {
	exact    map[string]bool
	prefixes []string
}

// Compile returns the patterns of list.
func Compile(list []string) Patterns {
	var p Patterns
	for _, s := range list {
		if pre, ok := strings.CutSuffix(s, "*"); ok {
			p.prefixes = append(p.prefixes, pre)
			continue
		}
		if p.exact == nil {
			p.exact = map[string]bool{}
		}
		p.exact[s] = true
	}
	return p
}

// Empty reports that the patterns match nothing.
func (p *Patterns) Empty() bool { return len(p.exact) == 0 && len(p.prefixes) == 0 }

// Match reports whether method is named, or starts with a prefix.
func (p *Patterns) Match(method string) bool {
	if p.exact[method] {
		return true
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(method, pre) {
			return true
		}
	}
	return false
}

// Filter is compiled Lists: the methods it admits.
type Filter struct {
	lists       Lists
	allow, deny Patterns
}

// NewFilter compiles l; a nil Filter (from empty lists) admits every method.
func NewFilter(l Lists) *Filter {
	if l.Empty() {
		return nil
	}
	return &Filter{lists: l, allow: Compile(l.Allow), deny: Compile(l.Deny)}
}

// Lists returns the lists f was compiled from (none for a nil Filter).
func (f *Filter) Lists() *Lists {
	if f == nil {
		return nil
	}
	l := f.lists
	return &l
}

// Equal reports whether f and g were compiled from the same lists.
func (f *Filter) Equal(g *Filter) bool {
	if f == nil || g == nil {
		return f == g
	}
	return slices.Equal(f.lists.Allow, g.lists.Allow) && slices.Equal(f.lists.Deny, g.lists.Deny)
}

// Admits reports whether the lists let method through: not denied, and
// named by the allow list when there is one.
func (f *Filter) Admits(method string) bool {
	if f == nil {
		return true
	}
	return !f.deny.Match(method) && (f.allow.Empty() || f.allow.Match(method))
}

// Longest maps methods and prefixes ending in * to values: a method takes
// the value of its own name, else of the longest prefix it starts with.
// The order the entries were given in does not matter.
type Longest[V any] struct {
	exact    map[string]V
	prefixes []prefixed[V] // longest first
}

type prefixed[V any] struct {
	prefix string
	v      V
}

// NewLongest compiles entries (keys as PatternProblem accepts them); nil
// when there are none.
func NewLongest[V any](entries map[string]V) *Longest[V] {
	if len(entries) == 0 {
		return nil
	}
	l := &Longest[V]{}
	for k, v := range entries {
		if pre, ok := strings.CutSuffix(k, "*"); ok {
			l.prefixes = append(l.prefixes, prefixed[V]{pre, v})
			continue
		}
		if l.exact == nil {
			l.exact = map[string]V{}
		}
		l.exact[k] = v
	}
	slices.SortFunc(l.prefixes, func(a, b prefixed[V]) int {
		if d := len(b.prefix) - len(a.prefix); d != 0 {
			return d
		}
		return strings.Compare(a.prefix, b.prefix)
	})
	return l
}

// Lookup returns method's value; ok is false when no entry matches it (or
// l is nil).
func (l *Longest[V]) Lookup(method string) (v V, ok bool) {
	if l == nil {
		return v, false
	}
	if v, ok := l.exact[method]; ok {
		return v, true
	}
	for _, p := range l.prefixes {
		if strings.HasPrefix(method, p.prefix) {
			return p.v, true
		}
	}
	return v, false
}
