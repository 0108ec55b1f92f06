package main

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptedServer answers each request on a connection with the next of
// answers, closing the connection after an answer that says so.
type scriptedServer struct {
	ln      net.Listener
	accepts atomic.Int32
	wg      sync.WaitGroup
}

func startScripted(t *testing.T, answers []string) *scriptedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{ln: ln}
	var next atomic.Int32
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if !skipRequest(br) {
						return
					}
					a := answers[int(next.Add(1)-1)%len(answers)]
					if _, err := c.Write([]byte(a)); err != nil || strings.Contains(a, "Connection: close") {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// skipRequest reads one request with a Content-Length body.
func skipRequest(br *bufio.Reader) bool {
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		line = strings.TrimSpace(line)
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			for _, d := range v {
				n = n*10 + int(d-'0')
			}
		}
	}
	_, err := br.Discard(n)
	return err == nil
}

func TestConnReadsLengthAndChunkedBodies(t *testing.T) {
	answers := []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nConnection: close\r\n\r\nok",
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy",
	}
	s := startScripted(t, answers)
	c := newConn(target{addr: s.ln.Addr().String(), path: "/"}, "", []byte(`{}`), 5*time.Second)
	defer c.close()
	want := []string{"hello", "abcdefg", "ok"}
	for i, w := range want {
		if err := c.roundTrip(); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if string(c.body) != w {
			t.Fatalf("request %d: body %q, want %q", i, c.body, w)
		}
	}
	err := c.roundTrip()
	if se, ok := err.(*errStatus); !ok || se.code != 503 || string(se.body) != "busy" {
		t.Fatalf("fourth answer: %v, want http 503 with its body", err)
	}
	// Two connections: the third answer closed the first one.
	if got := s.accepts.Load(); got != 2 {
		t.Fatalf("%d connections, want 2 (keep-alive, then one redial after Connection: close)", got)
	}
}

func TestConnRejectsMalformedAnswers(t *testing.T) {
	for _, a := range []string{
		"HTTP/1.1 200 OK\r\n\r\n",                                     // no framing
		"SMTP ready\r\n\r\n",                                          // not HTTP
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",                // bad length
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", // bad chunk size
	} {
		s := startScripted(t, []string{a})
		c := newConn(target{addr: s.ln.Addr().String(), path: "/"}, "", []byte(`{}`), 2*time.Second)
		if err := c.roundTrip(); err == nil {
			t.Errorf("answer %q: no error", a)
		}
		if c.c != nil {
			t.Errorf("answer %q: connection kept after an error", a)
		}
		c.close()
	}
}
