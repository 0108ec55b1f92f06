package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// keyChecker finds mapping keys that name no field of the struct they are
// decoded into: the strict-decoding half of Parse. Each finding names the
// key, its line and its path, and suggests the nearest known key.
type keyChecker struct {
	seen     map[keyVisit]bool
	problems []string
	// lines maps a line to the key path written on it, so decoding errors,
	// which know only the line, can name the key too. An ambiguous line
	// (a flow mapping holding several keys) maps to "".
	lines map[int]string
}

// keyVisit marks a node already checked against a type, so aliases that
// point at the same node many times cost nothing more.
type keyVisit struct {
	n *yaml.Node
	t reflect.Type
}

// checkKeys reports every unknown key in the document, and returns the key
// path written on each line.
func checkKeys(doc *yaml.Node) (map[int]string, error) {
	k := keyChecker{seen: map[keyVisit]bool{}, lines: map[int]string{}}
	k.check(doc, reflect.TypeFor[Config](), "")
	if len(k.problems) == 0 {
		return k.lines, nil
	}
	return k.lines, errors.New(strings.Join(k.problems, "\n"))
}

// mark records that path is written on line; a deeper path on the same
// line wins, an unrelated one makes the line ambiguous.
func (k *keyChecker) mark(line int, path string) {
	old, ok := k.lines[line]
	switch {
	case !ok || strings.HasPrefix(path, old):
		k.lines[line] = path
	case !strings.HasPrefix(old, path):
		k.lines[line] = ""
	}
}

func (k *keyChecker) check(n *yaml.Node, t reflect.Type, path string) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || reflect.PointerTo(t).Implements(unmarshalerType) || k.seen[keyVisit{n, t}] {
		return
	}
	k.seen[keyVisit{n, t}] = true
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			k.check(c, t, path)
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		k.checkStruct(n, t, path)
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			k.mark(c.Line, fmt.Sprintf("%s[%d]", path, i))
			k.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	}
	// Anything else is a type mismatch that decoding reports with its line.
}

func (k *keyChecker) checkStruct(n *yaml.Node, t reflect.Type, path string) {
	fields := yamlFields(t)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
			k.checkMerge(val, t, path)
			continue
		}
		ft, ok := fields[key.Value]
		if !ok {
			k.problems = append(k.problems, unknownKey(key, path, fields))
			continue
		}
		k.mark(key.Line, joinPath(path, key.Value))
		k.mark(val.Line, joinPath(path, key.Value))
		k.check(val, ft, joinPath(path, key.Value))
	}
}

// checkMerge checks the mappings merged in with `<<: *anchor`.
func (k *keyChecker) checkMerge(val *yaml.Node, t reflect.Type, path string) {
	for val != nil && val.Kind == yaml.AliasNode {
		val = val.Alias
	}
	if val != nil && val.Kind == yaml.SequenceNode {
		for _, c := range val.Content {
			k.check(c, t, path)
		}
		return
	}
	k.check(val, t, path)
}

func unknownKey(key *yaml.Node, path string, fields map[string]reflect.Type) string {
	where := "at the top level"
	if path != "" {
		where = "in " + path
	}
	msg := fmt.Sprintf("line %d: unknown key %q %s", key.Line, key.Value, where)
	if s := nearest(key.Value, fields); s != "" {
		return msg + fmt.Sprintf(": did you mean %q?", s)
	}
	return msg + ": check its spelling against the configuration reference in README.md"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps a struct's YAML keys to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if flags == "inline" && f.Type.Kind() == reflect.Struct {
			maps.Copy(out, yamlFields(f.Type))
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// nearest returns the known key closest to s by edit distance, when it is
// close enough to be a likely misspelling.
func nearest(s string, fields map[string]reflect.Type) string {
	best, bestDist := "", 1<<30
	for name := range fields {
		d := editDistance(strings.ToLower(s), name)
		if d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if bestDist <= max(2, len(best)/4) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
