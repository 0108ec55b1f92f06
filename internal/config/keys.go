package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

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
	case ok && old == "":
		// Ambiguous already.
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
	if n == nil || k.seen[keyVisit{n, t}] {
		return
	}
	k.seen[keyVisit{n, t}] = true
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			k.check(c, t, path)
		}
	case reflect.PointerTo(t).Implements(unmarshalerType):
		k.checkUnmarshal(n, t, path)
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		// Empty: the zero value, as decoding gives.
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		k.checkStruct(n, t, path)
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			k.mark(c.Line, fmt.Sprintf("%s[%d]", path, i))
			k.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" {
				k.checkMerge(val, t, path)
				continue
			}
			k.check(val, t.Elem(), joinPath(path, key.Value))
		}
	default:
		k.checkValue(n, t, path)
	}
}

// checkUnmarshal decodes a value of a type with its own decoding (a
// duration, a port) and reports its error under the key path.
func (k *keyChecker) checkUnmarshal(n *yaml.Node, t reflect.Type, path string) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	prefix := fmt.Sprintf("line %d: ", n.Line)
	k.problems = append(k.problems, prefix+pathName(path)+": "+strings.TrimPrefix(err.Error(), prefix))
}

// checkValue reports a value that is not of its key's kind: text where a
// number, true or false, a list or a section of keys belongs, or the other
// way round. Each message names the line, the key, what was expected and
// how to write it.
func (k *keyChecker) checkValue(n *yaml.Node, t reflect.Type, path string) {
	want, fix := expected(t, path)
	if want == "" {
		return
	}
	var got string
	switch n.Kind {
	case yaml.ScalarNode:
		if !scalarKind(t.Kind()) {
			got = quoteValue(n.Value)
		} else if err := n.Decode(reflect.New(t).Interface()); err != nil || !whole(n, t) {
			got = quoteValue(n.Value)
		}
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			got = "a list"
		}
	case yaml.MappingNode:
		if t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
			got = "a section of keys"
		}
	}
	if got == "" {
		return
	}
	if n.Kind == yaml.ScalarNode {
		want, fix = numberHint(n, t, path, want, fix)
	}
	msg := fmt.Sprintf("line %d: %s: %s is not %s: %s", n.Line, pathName(path), got, want, fix)
	if n.Kind != yaml.ScalarNode {
		msg = fmt.Sprintf("line %d: %s: is %s, not %s: %s", n.Line, pathName(path), got, want, fix)
	}
	k.problems = append(k.problems, msg)
}

// expected says what a value of type t at path is and how to write one;
// "" for a type that takes any value.
func expected(t reflect.Type, path string) (want, fix string) {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false", "write true (on) or false (off), without quotes"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if strings.HasSuffix(path, "_bytes") {
			return "a whole number", "write bytes as a number, e.g. " + example(path)
		}
		return "a whole number", "write a whole number, e.g. " + example(path)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number of 0 or more", "write one, e.g. " + example(path)
	case reflect.Float32, reflect.Float64:
		return "a number", "write a number, e.g. 0.5"
	case reflect.String:
		return "a single value", "write the value after the key on its line, e.g. " + lastKey(path) + ": value"
	case reflect.Slice:
		return "a list", `write each entry on a line starting with "- "`
	case reflect.Struct, reflect.Map:
		if path == "" {
			return "a section of keys", "start the file with its keys, such as networks:, each at the start of a line"
		}
		return "a section of keys", "write each of its keys on its own line below " + lastKey(path) + ":, indented"
	}
	return "", ""
}

// numberHint narrows the message about a number key whose value is a number
// all the same: quoted (the quotes make it text), or, for a whole-number
// key, too large for it.
func numberHint(n *yaml.Node, t reflect.Type, path, want, fix string) (string, string) {
	if t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64 {
		if _, err := strconv.ParseFloat(n.Value, 64); err == nil && n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return "a number", "write it without quotes, " + lastKey(path) + ": " + n.Value
		}
		return want, fix
	}
	if t.Kind() < reflect.Int || t.Kind() > reflect.Uint64 {
		return want, fix
	}
	v := strings.ReplaceAll(n.Value, "_", "")
	_, errInt := strconv.ParseInt(v, 0, t.Bits())
	_, errUint := strconv.ParseUint(v, 0, t.Bits())
	signed := t.Kind() <= reflect.Int64
	switch {
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 && (errInt == nil || !signed && errUint == nil):
		return want, "write it without quotes, " + lastKey(path) + ": " + n.Value
	case errors.Is(errInt, strconv.ErrRange) && (signed || errors.Is(errUint, strconv.ErrRange)):
		return "a whole number this key can hold", "write a smaller one, e.g. " + example(path)
	}
	return want, fix
}

func scalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// whole reports whether a number decoded into an integer type was whole:
// decoding reads 1.5 as 1 without a word.
func whole(n *yaml.Node, t reflect.Type) bool {
	if n.ShortTag() != "!!float" || t.Kind() < reflect.Int || t.Kind() > reflect.Uint64 {
		return true
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
	return err != nil || f == math.Trunc(f)
}

// quoteValue quotes a value for a message, shortened when long.
func quoteValue(v string) string {
	if r := []rune(v); len(r) > 40 {
		v = string(r[:37]) + "..."
	}
	return strconv.Quote(v)
}

// pathName is how a message names a key path; the document itself is the
// top level.
func pathName(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// lastKey is the last key of a path, without its list index.
func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return "key"
	}
	return path
}

// defaults is a configuration with every default filled in, a network and
// a node of each tier: the source of the examples in messages.
var defaults = sync.OnceValue(func() reflect.Value {
	c := Config{Networks: []Network{{LocalNodes: []Node{{}}, MonitoringNodes: []Node{{}}, FallbackNodes: []Node{{}}}}}
	c.Default()
	return reflect.ValueOf(c)
})

// example is the default of the number at path (the first entry of each
// list standing in for all), or 1 when it has none.
func example(path string) string {
	v := defaults()
	for _, seg := range strings.Split(path, ".") {
		name, index, _ := strings.Cut(seg, "[")
		for v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return "1"
		}
		f, ok := fieldByKey(v.Type(), name)
		if !ok {
			return "1"
		}
		v = v.FieldByIndex(f)
		if index != "" {
			if v.Kind() != reflect.Slice || v.Len() == 0 {
				return "1"
			}
			v = v.Index(0)
		}
	}
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	switch {
	case v.CanInt() && v.Int() > 0:
		return strconv.FormatInt(v.Int(), 10)
	case v.CanUint() && v.Uint() > 0:
		return strconv.FormatUint(v.Uint(), 10)
	}
	return "1"
}

// fieldByKey finds the field of a struct type that a YAML key names.
func fieldByKey(t reflect.Type, key string) ([]int, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if flags == "inline" && f.Type.Kind() == reflect.Struct {
			if idx, ok := fieldByKey(f.Type, key); ok {
				return append([]int{i}, idx...), true
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if f.IsExported() && name == key {
			return []int{i}, true
		}
	}
	return nil, false
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
