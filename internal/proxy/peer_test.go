package proxy

import (
	"net"
	"testing"
)

// TestPeerClosed: a connection whose client closed it reads as closed; one
// whose client is still there, or sent more, does not, and peeking takes
// nothing from it.
func TestPeerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pair := func() (client, server net.Conn) {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err = ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close(); server.Close() })
		return client, server
	}
	client, server := pair()
	if peerClosed(server) {
		t.Fatal("an open connection reads as closed")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	client.Close()
	// The byte sent first is still unread: a pipelined request, not a close.
	if peerClosed(server) {
		t.Fatal("a connection with unread bytes reads as closed")
	}
	b := make([]byte, 1)
	if n, err := server.Read(b); n != 1 || err != nil || b[0] != 'x' {
		t.Fatalf("peeking took the byte: %d %v %q", n, err, b)
	}
	if !peerClosed(server) {
		t.Fatal("a connection its client closed reads as open")
	}
}
