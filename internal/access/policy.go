package access

import "strings"

// defaultRefused are the namespaces not offered on the JSON-RPC listener
// unless an allow list names them: node control, accounts, mining and the
// consensus client's port.
var defaultRefused = []string{"admin_*", "personal_*", "miner_*", "engine_*"}

// patterns matches method names against names and prefixes ending in *.
type patterns struct {
	exact    map[string]bool
	prefixes []string
}

func compilePatterns(list []string) patterns {
	var p patterns
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

func (p *patterns) empty() bool { return len(p.exact) == 0 && len(p.prefixes) == 0 }

func (p *patterns) match(method string) bool {
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

// policy is a compiled MethodPolicy.
type policy struct{ allow, deny patterns }

func compilePolicy(m MethodPolicy) policy {
	return policy{allow: compilePatterns(m.Allow), deny: compilePatterns(m.Deny)}
}

// verdict is what one policy layer says of a method.
type verdict uint8

const (
	silent  verdict = iota // the layer has no opinion
	allowed                // named by the allow list
	denied                 // named by the deny list, or outside a non-empty allow list
)

func (p *policy) judge(method string) verdict {
	switch {
	case p.deny.match(method):
		return denied
	case p.allow.match(method):
		return allowed
	case !p.allow.empty():
		return denied
	}
	return silent
}

// methodAllowed layers the policies: a deny anywhere refuses; the default
// refusals hold unless some layer's allow list names the method.
func methodAllowed(method string, layers ...*policy) bool {
	explicit := false
	for _, p := range layers {
		if p == nil {
			continue
		}
		switch p.judge(method) {
		case denied:
			return false
		case allowed:
			explicit = true
		}
	}
	if explicit {
		return true
	}
	d := compiledDefault
	return !d.match(method)
}

var compiledDefault = compilePatterns(defaultRefused)
