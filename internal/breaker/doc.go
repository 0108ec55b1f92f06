// Package breaker keeps a circuit breaker per node, fed by the outcomes of
// client calls.
//
// It sits beside health on the request path: proxy reports every try's
// outcome to the network's observer, which the gateway makes pass it to
// health and then to the node's breaker. The two answer different
// questions.
//
//   - health asks "is this node fit to serve?" from probes (chain id, head,
//     block age, syncing) and from runs of failed calls: a refused connection
//     marks a node down at once, other failures after down_after in a row,
//     and only a good probe brings it back.
//   - the breaker asks "are calls to this node failing now?" over a rolling
//     window of calls, between probes: a node whose probes pass but whose
//     calls time out, answer 5xx or 429, or break half the time never makes
//     down_after failures in a row, yet wastes every other try. When the
//     window holds at least circuit_breaker.failures failed calls and they
//     are at least circuit_breaker.failure_ratio of its calls, the breaker
//     opens and the node gets no calls at all, not even as a last resort.
//     After circuit_breaker.cooldown it is half-open: the next call is a
//     trial; its success closes the breaker, its failure opens it again for
//     another cool-down.
//
// What counts as a failure is what health counts (health.Counts): transport
// failures (refused, reset, timeouts), HTTP 5xx and 429, answers that are
// not JSON-RPC. A client that went away, an answer over the gateway's limit
// and a node error meaning "not on this node now" count neither way.
//
// The state machine is sony/gobreaker's. Its state is mirrored on the node
// (upstream.Node.Gate), which is what selection reads: the balancer's view
// leaves an open node out, and TryAcquire lets exactly one trial call
// through a half-open node. The node counts the calls it admitted until
// their outcome reaches Observe; a half-open node takes its trial only when
// none is out, so the outcome of a call placed before the breaker opened is
// never taken for the trial's, and only the trial's own outcome ends it.
// Such older outcomes are no verdict at all while the breaker is open or
// half-open. A timer per open breaker ends its cool-down, so a node comes
// back even when no call asks for it.
package breaker
