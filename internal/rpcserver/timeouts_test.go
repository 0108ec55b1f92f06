package rpcserver_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// okFast answers every request 200 "ok" on the fast server.
func okFast(ctx *fasthttp.RequestCtx) bool {
	ctx.SetBodyString("ok")
	return true
}

const keptPost = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"

// closedWithin reads c until it is closed and returns how long that took
// from since; it fails when the server sends anything but answers.
func closedWithin(t *testing.T, c net.Conn, since time.Time) time.Duration {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open %s", wait)
	}
	return time.Since(since)
}

// The server's timeouts hold on a connection served many requests: a
// keep-alive connection left idle is closed after idle_timeout, a request
// whose header or body stops coming is cut after its read time, each at
// most the slack (an eighth of the shortest timeout here) late.
func TestTimeoutsOnAKeptConnection(t *testing.T) {
	const timeout = 400 * time.Millisecond
	o := options()
	o.ReadHeaderTimeout, o.ReadTimeout, o.IdleTimeout = timeout, timeout, timeout
	f := start(t, okFast, http.NotFoundHandler(), o)
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.DialTimeout("tcp", f.addr, wait)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	answer := func(c net.Conn, br *bufio.Reader) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Many requests first, so the connection's deadlines settle.
	busy := func() (net.Conn, *bufio.Reader) {
		c, br := dial()
		for range 50 {
			if _, err := io.WriteString(c, keptPost); err != nil {
				t.Fatal(err)
			}
			answer(c, br)
		}
		return c, br
	}

	t.Run("idle", func(t *testing.T) {
		c, _ := busy()
		start := time.Now()
		if took := closedWithin(t, c, start); took < timeout-50*time.Millisecond {
			t.Errorf("an idle connection was closed after %s, before idle_timeout (%s)", took, timeout)
		}
	})
	t.Run("header stops", func(t *testing.T) {
		c, _ := busy()
		start := time.Now()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\n")
		took := closedWithin(t, c, start)
		if took < timeout-50*time.Millisecond {
			t.Errorf("a half-sent header was cut after %s, before its read time (%s)", took, timeout)
		}
	})
	t.Run("body stops", func(t *testing.T) {
		c, br := busy()
		start := time.Now()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
		_ = c.SetReadDeadline(time.Now().Add(wait))
		// The server answers what it could not read (408) or closes.
		if resp, err := http.ReadResponse(br, nil); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Fatalf("a body that stopped after 1 of 100 bytes was answered 200")
			}
		}
		took := closedWithin(t, c, start)
		if took < timeout-50*time.Millisecond {
			t.Errorf("a half-sent body was cut after %s, before its read time (%s)", took, timeout)
		}
		if took > wait/2 {
			t.Errorf("a half-sent body was cut after %s", took)
		}
	})
	t.Run("answers keep coming", func(t *testing.T) {
		// Requests spread over more than the timeout: each comes within
		// it of the last, so none is cut.
		c, br := dial()
		deadline := time.Now().Add(3 * timeout)
		for n := 0; time.Now().Before(deadline); n++ {
			time.Sleep(timeout / 4) // the client's pace, not a synchronisation
			if _, err := io.WriteString(c, keptPost); err != nil {
				t.Fatalf("request %d: %v", n, err)
			}
			answer(c, br)
		}
	})
}
