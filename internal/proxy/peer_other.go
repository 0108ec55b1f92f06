//go:build !unix

package proxy

import "net"

// peerPeekable says that peerClosed cannot see a client that went away.
const peerPeekable = false

// peerClosed cannot peek at a socket here: a client that went away is
// noticed when its answer is written.
func peerClosed(net.Conn) bool { return false }
