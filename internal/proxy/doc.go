// Package proxy is the JSON-RPC HTTP handler: route → read → parse →
// schedule → select → forward → retry → respond.
//
// A call's raw bytes go to the node unchanged and the node's answer comes
// back unchanged: a single call's answer is read as far as it takes to show
// a result or an error (whatever the size of the id and the order of the
// members before it, up to upstream.MaxAnswer), and a result is then
// streamed. A node that re-encoded the id it echoes gets the client's bytes
// put back. A batch that one node can serve goes to
// that node as one upstream batch and is split only for the calls that must
// be retried elsewhere. A try that fails for the node's sake (refused, timed
// out, HTTP 5xx or 429, or a JSON-RPC error that means "not on this node
// now") is retried on a different node within rpc_retries and the call's
// deadline; the method's own errors are returned as they are. What a
// client can cause (a cancel, an answer over the gateway's limit, its own
// deadline running out, a 4xx for a body too large for the node) is never
// counted against the node (health.Counts).
//
// Each call adds its constraints to the pick (balancer.Need): the block it
// names, the old state it reads (sent only to nodes that hold it), and,
// for a named client on a network with consistent reads, the highest head
// that client was served and the node that took its transaction (package
// consistent). A batch takes the strictest of its calls. The client is
// exchange.client (ClientOf): the caller's API key when it has one, with
// its X-Client-ID header naming one of the key's clients, set in ServeHTTP
// (and DoAs for WebSocket connections, where the connection names a client
// that sends no header). Such calls of a named client skip in-flight dedup, since
// their node is chosen for that client.
package proxy
