package monitoring

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// PromQL words that are never metric names. Aggregations are recognised by
// what follows them (a parenthesis or by/without), like functions.
var (
	labelListWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}
	operatorWords  = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true, "inf": true, "nan": true}
	aggregations   = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "count": true, "stddev": true, "stdvar": true, "group": true,
		"topk": true, "bottomk": true, "quantile": true, "count_values": true, "limitk": true, "limit_ratio": true,
	}
)

// selector is a metric name and the labels its matchers name.
type selector struct {
	name   string
	labels []string
}

// metricNames returns the metric names a PromQL expression selects, in
// order of appearance, without repeats.
func metricNames(expr string) ([]string, error) {
	sels, err := selectors(expr)
	var out []string
	for _, s := range sels {
		if !slices.Contains(out, s.name) {
			out = append(out, s.name)
		}
	}
	return out, err
}

// selectors returns the selectors of a PromQL expression in order of
// appearance. It skips strings, range and subquery brackets, label lists
// (by, without, on, ignoring, group_left, group_right), function and
// aggregation names, keywords, numbers and durations, and Grafana
// variables. The syntax itself is left to promtool
// (TestDashboardQueriesParse and TestRulesCheck).
func selectors(expr string) ([]selector, error) {
	var out []selector
	s := scanner{src: expr}
	for s.more() {
		c := s.peek()
		switch {
		case c == '"' || c == '\'' || c == '`':
			if err := s.skipString(); err != nil {
				return nil, err
			}
		case c == '{':
			if err := s.skipBalanced('{', '}'); err != nil {
				return nil, err
			}
		case c == '[':
			if err := s.skipBalanced('[', ']'); err != nil {
				return nil, err
			}
		case c == '$':
			s.pos++
			if s.more() && s.peek() == '{' {
				if err := s.skipBalanced('{', '}'); err != nil {
					return nil, err
				}
			} else {
				s.ident()
			}
		case isDigit(c) || (c == '.' && s.pos+1 < len(expr) && isDigit(expr[s.pos+1])):
			for s.more() && (isIdentChar(s.peek()) || s.peek() == '.') {
				s.pos++
			}
		case isIdentStart(c):
			name, err := s.word()
			if err != nil || name == "" {
				if err != nil {
					return nil, err
				}
				continue
			}
			sel := selector{name: name}
			if s.next() == '{' {
				s.pos = strings.IndexByte(s.src[s.pos:], '{') + s.pos
				start := s.pos
				if err := s.skipBalanced('{', '}'); err != nil {
					return nil, err
				}
				for _, m := range matcherLabel.FindAllStringSubmatch(stripStrings(s.src[start:s.pos]), -1) {
					sel.labels = append(sel.labels, m[1])
				}
			}
			out = append(out, sel)
		default:
			s.pos++
		}
	}
	return out, nil
}

var (
	matcherLabel = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)`)
	quoted       = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
)

// stripStrings empties the quoted strings of a matcher list.
func stripStrings(s string) string { return quoted.ReplaceAllString(s, `""`) }

type scanner struct {
	src string
	pos int
}

func (s *scanner) more() bool { return s.pos < len(s.src) }
func (s *scanner) peek() byte { return s.src[s.pos] }

// next returns the next character that is not a space, without moving.
func (s *scanner) next() byte {
	for i := s.pos; i < len(s.src); i++ {
		if !strings.ContainsRune(" \t\r\n", rune(s.src[i])) {
			return s.src[i]
		}
	}
	return 0
}

func (s *scanner) ident() string {
	start := s.pos
	for s.more() && isIdentChar(s.peek()) {
		s.pos++
	}
	return s.src[start:s.pos]
}

// word reads an identifier and returns it when it names a metric, else "".
func (s *scanner) word() (string, error) {
	w := s.ident()
	after := s.next()
	switch {
	case labelListWords[w]:
		if after == '(' {
			s.pos = strings.IndexByte(s.src[s.pos:], '(') + s.pos
			return "", s.skipBalanced('(', ')')
		}
		return "", nil // group_left without labels
	case operatorWords[strings.ToLower(w)]:
		return "", nil
	case after == '(':
		return "", nil // a function or an aggregation
	case aggregations[w] && (strings.HasPrefix(s.rest(), "by") || strings.HasPrefix(s.rest(), "without")):
		return "", nil
	}
	return w, nil
}

// rest is what follows the position, without leading spaces.
func (s *scanner) rest() string { return strings.TrimLeft(s.src[s.pos:], " \t\r\n") }

func (s *scanner) skipString() error {
	q := s.peek()
	for i := s.pos + 1; i < len(s.src); i++ {
		switch {
		case s.src[i] == '\\' && q != '`':
			i++
		case s.src[i] == q:
			s.pos = i + 1
			return nil
		}
	}
	return fmt.Errorf("unterminated string at %d in %q", s.pos, s.src)
}

// skipBalanced skips from the open character at the position to its match,
// stepping over strings.
func (s *scanner) skipBalanced(open, close byte) error {
	start, depth := s.pos, 0
	for s.more() {
		switch c := s.peek(); c {
		case '"', '\'', '`':
			if err := s.skipString(); err != nil {
				return err
			}
			continue
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				s.pos++
				return nil
			}
		}
		s.pos++
	}
	return fmt.Errorf("unbalanced %c at %d in %q", open, start, s.src)
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func TestMetricNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, expr string
		want       []string
	}{
		{"selector", `up`, []string{"up"}},
		{"matchers with strings", `foo_total{a="x,y}", b=~"$node", c!="by (z)"}`, []string{"foo_total"}},
		{"rate and range", `rate(foo_total{a="b"}[$__rate_interval])`, []string{"foo_total"}},
		{"aggregation before", `sum by (network, le) (rate(x_bucket[5m]))`, []string{"x_bucket"}},
		{"aggregation after", `sum(rate(x[5m])) by (network)`, []string{"x"}},
		{"without", `max without (instance) (y)`, []string{"y"}},
		{"quantile", `histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m])))`, []string{"h_bucket"}},
		{"vector matching", "a / on (network) group_left sum by (network) (b)", []string{"a", "b"}},
		{"group_left with labels", "a * on (x) group_left (tier) b", []string{"a", "b"}},
		{"set operators and bool", `(a == 1) * 2 or (b == bool 1) and c unless d`, []string{"a", "b", "c", "d"}},
		{"offset and numbers", `a offset 5m > 1e3 + 0.5 + .5`, []string{"a"}},
		{"recording rule name", `network:foo:rate5m > 0.05`, []string{"network:foo:rate5m"}},
		{"vector and topk", `topk(10, a) or vector(0)`, []string{"a"}},
		{"repeats once", `a / a`, []string{"a"}},
		{"subquery", `max_over_time(a[10m:1m])`, []string{"a"}},
		{"variable", `a{x="$network"} > ${threshold}`, []string{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := metricNames(c.expr)
			if err != nil || !slices.Equal(got, c.want) {
				t.Fatalf("metricNames(%q) = %q, %v; want %q", c.expr, got, err, c.want)
			}
		})
	}
	t.Run("matcher labels", func(t *testing.T) {
		got, err := selectors(`a{x="y=z", w!~"a|b"} / on (x) b{} + c{u=~"$node"}[5m]`)
		want := []selector{{"a", []string{"x", "w"}}, {"b", nil}, {"c", []string{"u"}}}
		if err != nil || !slices.EqualFunc(got, want, func(a, b selector) bool {
			return a.name == b.name && slices.Equal(a.labels, b.labels)
		}) {
			t.Fatalf("selectors = %v, %v; want %v", got, err, want)
		}
	})
	for _, bad := range []string{`a{x="y}`, `rate(a[5m)`, `a{b="c"`} {
		if got, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q) = %q, want an error", bad, got)
		}
	}
}
