// Package proxy is the JSON-RPC HTTP handler: route → read → parse →
// schedule → select → forward → retry → respond.
//
// A call's raw bytes go to the node unchanged and the node's answer comes
// back unchanged: a single call's result is streamed once its first bytes
// show it is a result, not an error. A batch that one node can serve goes to
// that node as one upstream batch and is split only for the calls that must
// be retried elsewhere. A try that fails for the node's sake (refused, timed
// out, HTTP 5xx or 429, or a JSON-RPC error that means "not on this node
// now") is retried on a different node within rpc_retries and the call's
// deadline; the method's own errors are returned as they are.
package proxy
