package access

import "github.com/evmgate/evmgate/internal/methodset"

// defaultRefused are the namespaces not offered on the JSON-RPC listener
// unless an allow list names them: node control, accounts, mining and the
// consensus client's port.
var defaultRefused = []string{"admin_*", "personal_*", "miner_*", "engine_*"}

// policy is a compiled MethodPolicy.
type policy struct{ allow, deny methodset.Patterns }

func compilePolicy(m MethodPolicy) policy {
	return policy{allow: methodset.Compile(m.Allow), deny: methodset.Compile(m.Deny)}
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
	case p.deny.Match(method):
		return denied
	case p.allow.Match(method):
		return allowed
	case !p.allow.Empty():
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
	return !d.Match(method)
}

var compiledDefault = methodset.Compile(defaultRefused)

// Refuses reports whether access.methods or access.networks.<network>.methods
// refuses method to every client of network (a deny list names it, or an
// allow list leaves it out): no key can then call it, as a deny in any
// layer wins.
func (c *Config) Refuses(network, method string) bool {
	layers := []MethodPolicy{c.Methods}
	if n, ok := c.Networks[network]; ok {
		layers = append(layers, n.Methods)
	}
	for _, m := range layers {
		if p := compilePolicy(m); p.judge(method) == denied {
			return true
		}
	}
	return false
}
