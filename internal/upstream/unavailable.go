package upstream

import "strings"

// unavailableMessages are node error messages that mean "this node cannot
// serve this call now" (lagging, pruned or overloaded), so another node
// should be tried. This is the one place where errors are matched by text.
var unavailableMessages = []string{
	"header not found",
	"unknown block",
	"block not found",
	"missing trie node",
	"required historical state unavailable",
	"historical state not available",
	"state is not available",
	"pruned",
	"request beyond head block",
	"block range extends beyond current head",
	"too many requests",
	"rate limit",
	"capacity exceeded",
	"upstream error",
	"no suitable peers",
	"server is busy",
}

// unavailableCodes are JSON-RPC codes providers use for overload.
var unavailableCodes = map[int]bool{
	-32005: true, // limit exceeded (EIP-1474)
	429:    true,
}

// Unavailable reports whether a JSON-RPC error from a node means the call
// should be tried on another node instead of returned to the client.
func Unavailable(code int, message string) bool {
	if unavailableCodes[code] {
		return true
	}
	m := strings.ToLower(message)
	for _, s := range unavailableMessages {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
