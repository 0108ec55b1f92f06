package upstream

// UsesFastHTTP reports whether the pooled HTTP/1.1 client serves n.
func UsesFastHTTP(n *Node) bool { return n.fast != nil }
