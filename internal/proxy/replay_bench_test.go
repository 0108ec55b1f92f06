package proxy_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// replayNode answers the benchmark's request bodies with the bytes a fake
// node answered them with, straight from a socket: no net/http server, no
// allocation per request. It keeps the node's cost out of the forward
// benchmark's figures.
type replayNode struct {
	ln      net.Listener
	answers map[string][]byte // request body -> whole HTTP response
	wg      sync.WaitGroup
	mu      sync.Mutex // mu protects conns and closed
	conns   map[net.Conn]struct{}
	closed  bool
}

// startReplayNode records a fake node's answers to the benchmark bodies and
// serves them on 127.0.0.1; it returns the node's URL.
func startReplayNode(b testing.TB) string {
	b.Helper()
	f := startFakeNode(b)
	r := &replayNode{answers: map[string][]byte{}, conns: map[net.Conn]struct{}{}}
	for _, body := range [][]byte{blockNumberBody, batch10Body, blockBody} {
		resp, err := http.Post(f.URL(), "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		answer, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("recording the fake node's answer: %d %v", resp.StatusCode, err)
		}
		head := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(answer)) + "\r\n\r\n"
		r.answers[string(body)] = append([]byte(head), answer...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	r.ln = ln
	r.wg.Add(1)
	go r.accept()
	b.Cleanup(r.close)
	return "http://" + ln.Addr().String()
}

func (r *replayNode) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			return
		}
		r.conns[c] = struct{}{}
		r.mu.Unlock()
		r.wg.Add(1)
		go r.serve(c)
	}
}

var (
	notFound          = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
	contentLengthName = []byte("content-length:")
)

// serve answers the requests of one keep-alive connection.
func (r *replayNode) serve(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReaderSize(c, 16<<10)
	body := make([]byte, 0, 4<<10)
	for {
		n, err := readRequestHead(br)
		if err != nil {
			return
		}
		body = body[:0]
		if cap(body) < n {
			body = make([]byte, 0, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		answer, ok := r.answers[string(body)]
		if !ok {
			answer = notFound
		}
		if _, err := c.Write(answer); err != nil {
			return
		}
	}
}

// readRequestHead reads a request's header block and returns its
// Content-Length.
func readRequestHead(br *bufio.Reader) (int, error) {
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if len(line) > len(contentLengthName) && bytes.EqualFold(line[:len(contentLengthName)], contentLengthName) {
			v := bytes.TrimSpace(line[len(contentLengthName):])
			n := 0
			for _, d := range v {
				if d < '0' || d > '9' {
					return 0, errors.New("bad content-length")
				}
				n = n*10 + int(d-'0')
			}
			length = n
		}
	}
	if length < 0 {
		return 0, errors.New("request without content-length")
	}
	return length, nil
}

func (r *replayNode) close() {
	r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
