package rpcserver

import (
	"net"
	"testing"
	"time"
)

// deadlineConn records the deadlines given to the socket.
type deadlineConn struct {
	net.Conn
	reads, writes []time.Time
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.reads = append(c.reads, t)
	return nil
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.writes = append(c.writes, t)
	return nil
}

func (c *deadlineConn) Read(p []byte) (int, error)  { return len(p), nil }
func (c *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }

// The fast server's deadlines reach the socket only when a read or a write
// goes to it, and only when the socket's is not already within the slack
// after them; a connection handed over gets every deadline at once.
func TestDeadlinesSettleLazily(t *testing.T) {
	sock := &deadlineConn{}
	slack := deadlineSlack(10 * time.Second) // 1 s
	c := &flushConn{Conn: sock, mark: noAnswer, dl: deadlines{slack: slack}}
	now := time.Now()
	p := make([]byte, 8)

	// A request: idle time, then header and body times, then the answer.
	c.SetReadDeadline(now.Add(120 * time.Second))
	c.Read(p) // waits for the request's first bytes: the idle time applies
	c.SetReadDeadline(now.Add(10 * time.Second))
	c.SetReadDeadline(now.Add(60 * time.Second)) // the request was read whole: no read waits on these
	c.SetWriteDeadline(now.Add(120 * time.Second))
	c.Write(p)
	if len(sock.reads) != 1 || sock.reads[0].Before(now.Add(120*time.Second)) || sock.reads[0].After(now.Add(121*time.Second)) {
		t.Fatalf("read deadlines given to the socket: %v, want one, 120-121 s from now", sock.reads)
	}
	if len(sock.writes) != 1 || sock.writes[0].Before(now.Add(120*time.Second)) {
		t.Fatalf("write deadlines given to the socket: %v, want one, at least 120 s from now", sock.writes)
	}

	// The next requests within the slack move nothing.
	for i := range 10 {
		later := now.Add(time.Duration(i) * 40 * time.Millisecond)
		c.SetReadDeadline(later.Add(120 * time.Second))
		c.Read(p)
		c.SetWriteDeadline(later.Add(120 * time.Second))
		c.Write(p)
	}
	if len(sock.reads) != 2 || len(sock.writes) != 2 {
		t.Fatalf("ten requests 40 ms apart: socket deadlines reads %v, writes %v, want one more of each (then the slack holds them)", sock.reads, sock.writes)
	}

	// A header that does not come whole is read under its own (shorter)
	// time: an earlier deadline reaches the socket, exactly, before the read.
	c.SetReadDeadline(now.Add(10 * time.Second))
	c.Read(p)
	if got := sock.reads[len(sock.reads)-1]; len(sock.reads) != 3 || !got.Equal(now.Add(10*time.Second)) {
		t.Fatalf("a read under the header's 10 s: socket deadlines %v", sock.reads)
	}
	// A connection past its slack gets its deadline moved.
	c.SetReadDeadline(now.Add(5 * time.Second).Add(120 * time.Second))
	c.Read(p)
	if len(sock.reads) != 4 {
		t.Fatalf("5 s later: socket deadlines %v, want a fourth", sock.reads)
	}
	// No deadline clears the socket's.
	c.SetDeadline(time.Time{})
	c.Read(p)
	c.Write(p)
	if !sock.reads[len(sock.reads)-1].IsZero() || !sock.writes[len(sock.writes)-1].IsZero() {
		t.Fatalf("a cleared deadline was not cleared: reads %v, writes %v", sock.reads, sock.writes)
	}

	// Handed over: what the server asked last reaches the socket exactly,
	// then every deadline at once.
	c.SetReadDeadline(now.Add(time.Minute))
	c.goDirect()
	if got := sock.reads[len(sock.reads)-1]; !got.Equal(now.Add(time.Minute)) {
		t.Fatalf("hand-over gave the socket %v, want the last deadline asked, %v", got, now.Add(time.Minute))
	}
	n := len(sock.reads)
	c.SetReadDeadline(now.Add(-time.Second)) // net/http's way to end a read in progress
	if len(sock.reads) != n+1 || !sock.reads[n].Equal(now.Add(-time.Second)) {
		t.Fatalf("a deadline after the hand-over did not reach the socket at once: %v", sock.reads[n-1:])
	}
}

func TestDeadlineSlack(t *testing.T) {
	for _, c := range []struct {
		shortest time.Duration
		want     time.Duration
	}{
		{10 * time.Second, time.Second},
		{2 * time.Second, 250 * time.Millisecond},
		{0, time.Second},
	} {
		if got := time.Duration(deadlineSlack(c.shortest)); got != c.want {
			t.Errorf("deadlineSlack(%s) = %s, want %s", c.shortest, got, c.want)
		}
	}
	if got := shortest(0, 10*time.Second, 2*time.Second, 120*time.Second); got != 2*time.Second {
		t.Errorf("shortest = %s", got)
	}
}
