package upstream

import "context"

// viaWSKey marks a context whose calls go over the node's WebSocket.
type viaWSKey struct{}

// ViaWebSocket returns ctx marked so that a call made with it goes over
// the chosen node's WebSocket connection (Spec.WSTransport) rather than
// HTTP. A node without one serves the call over HTTP as usual. Selection,
// retries and failover are the same either way: only the carrier to the
// chosen node changes.
func ViaWebSocket(ctx context.Context) context.Context {
	return context.WithValue(ctx, viaWSKey{}, true)
}

// OverWebSocket reports whether ctx asks for the node's WebSocket.
func OverWebSocket(ctx context.Context) bool {
	v, _ := ctx.Value(viaWSKey{}).(bool)
	return v
}

// overWS reports whether this call goes over the node's WebSocket.
func (n *Node) overWS(ctx context.Context) bool {
	return n.ws != nil && OverWebSocket(ctx)
}
