package upstream

import "strings"

// behindMessages mean "this node does not have that block": another node
// has it only if this one is behind the network head. From a node at the
// head they are the final answer (the block is in the future).
var behindMessages = []string{
	"header not found",
	"header for hash not found", // go-ethereum, for a block given by hash
	"unknown block",
	"block not found",
	"request beyond head block",
	"block range extends beyond current head",
}

// unavailableMessages are node error messages that mean "this node cannot
// serve this call now" (pruned or overloaded), so another node should be
// tried. This is the one place where errors are matched by text.
var unavailableMessages = []string{
	"missing trie node",
	"required historical state unavailable",
	"historical state not available",
	"state is not available",
	"pruned",
	"too many requests",
	"rate limit",
	"capacity exceeded",
	"compute units per second",
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
// should be tried on another node instead of returned to the client: the
// node cannot serve it now, or does not serve its method (MethodMissing).
// behindHead says whether the node is behind the network head: only then
// does "header not found" mean another node may have the block.
func Unavailable(code int, message string, behindHead bool) bool {
	if reverted(code, message) {
		return false // a revert reason that reads "rate limit" or "pruned" is the contract's
	}
	if unavailableCodes[code] || MethodMissing(code, message) {
		return true
	}
	m := strings.ToLower(message)
	if behindHead && containsAny(m, behindMessages) {
		return true
	}
	return containsAny(m, unavailableMessages) || containsAny(m, stateMessages)
}

// rateMessages are what providers say when calls come too fast.
var rateMessages = []string{"too many requests", "rate limit", "capacity exceeded", "compute units per second"}

// RateLimitedAnswer reports whether a node's JSON-RPC error says calls come
// too fast (the node is then passed over while it cools down, CoolDown).
// A contract's revert reason is the client's doing and never counts.
func RateLimitedAnswer(code int, message string) bool {
	if reverted(code, message) {
		return false
	}
	return code == 429 || containsAny(strings.ToLower(message), rateMessages)
}

// reverted reports a contract's error (code 3, "execution reverted: ..."):
// its message is whatever the contract says, so no word of it says
// anything about the node.
func reverted(code int, message string) bool {
	return code == 3 || len(message) >= 18 && strings.EqualFold(message[:18], "execution reverted")
}

// Behind reports whether a node error says the node lacks the block asked for.
func Behind(message string) bool { return containsAny(strings.ToLower(message), behindMessages) }

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
