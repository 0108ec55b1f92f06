package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTP/1.1 client connection that posts the same
// request again and again. It is deliberately minimal: the load generator
// shares two cores with the proxy it measures, so every microsecond it
// spends per call is taken from the proxy. net/http's client hands each
// response between two goroutines per connection; this reads it inline.
type conn struct {
	addr    string
	request []byte // the whole HTTP request, headers and body
	timeout time.Duration

	c    net.Conn
	r    *bufio.Reader
	body []byte // the last response body; reused
}

// target is a URL split for the raw client.
type target struct {
	ws   bool   // ws://: a WebSocket target
	addr string // host:port, always 127.0.0.1
	path string
}

// caller is one client connection repeating one request.
type caller interface {
	// roundTrip sends the request and reads the answer.
	roundTrip() error
	// answer is the last answer; valid until the next roundTrip.
	answer() []byte
	close()
}

// newCaller returns a client of t for w: a WebSocket connection sending
// w's body as a message, or a keep-alive HTTP/1.1 connection.
func newCaller(t target, w *workload, timeout time.Duration) caller {
	if t.ws {
		return newWSConn(t, w.Body, timeout)
	}
	return newConn(t, w.Method, w.Body, timeout)
}

// newConn returns a connection that sends method (POST when "") with
// payload, or a GET without a body.
func newConn(t target, method string, payload []byte, timeout time.Duration) *conn {
	if method == "" {
		method = "POST"
	}
	req := make([]byte, 0, 256+len(payload))
	req = append(req, method...)
	req = append(req, ' ')
	req = append(req, t.path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, t.addr...)
	if method != "GET" {
		req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		req = strconv.AppendInt(req, int64(len(payload)), 10)
	}
	req = append(req, "\r\n\r\n"...)
	req = append(req, payload...)
	return &conn{addr: t.addr, request: req, timeout: timeout, body: make([]byte, 0, 16<<10)}
}

func (c *conn) answer() []byte { return c.body }

// errStatus is a non-200 answer.
type errStatus struct {
	code int
	body []byte
}

func (e *errStatus) Error() string { return fmt.Sprintf("http %d: %.120s", e.code, e.body) }

// roundTrip sends the request and reads the answer into c.body. On any
// error the connection is closed; the next call dials again.
func (c *conn) roundTrip() error {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return fmt.Errorf("dialing %s: %w", c.addr, err)
		}
		c.c = nc
		if c.r == nil {
			c.r = bufio.NewReaderSize(nc, 64<<10)
		} else {
			c.r.Reset(nc)
		}
	}
	if err := c.c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return c.drop(fmt.Errorf("setting deadline: %w", err))
	}
	if _, err := c.c.Write(c.request); err != nil {
		return c.drop(fmt.Errorf("writing request: %w", err))
	}
	status, keep, err := c.readResponse()
	if err != nil {
		return c.drop(err)
	}
	if !keep {
		c.drop(nil)
	}
	if status != 200 {
		return &errStatus{code: status, body: c.body}
	}
	return nil
}

func (c *conn) drop(err error) error {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
	return err
}

func (c *conn) close() { c.drop(nil) }

// readResponse reads one HTTP/1.1 response: status line, headers, then a
// body framed by Content-Length or chunked encoding.
func (c *conn) readResponse() (status int, keepAlive bool, err error) {
	line, err := c.line()
	if err != nil {
		return 0, false, fmt.Errorf("reading status line: %w", err)
	}
	status, err = parseStatus(line)
	if err != nil {
		return 0, false, err
	}
	length, chunked, keepAlive := int64(-1), false, true
	for {
		line, err = c.line()
		if err != nil {
			return 0, false, fmt.Errorf("reading headers: %w", err)
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return 0, false, fmt.Errorf("bad content-length %q", value)
			}
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "connection"):
			keepAlive = !asciiEqualFold(value, "close")
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		err = c.readN(length)
	default:
		return 0, false, errors.New("response has neither content-length nor chunked encoding")
	}
	return status, keepAlive, err
}

// line returns the next CRLF-terminated line without its ending. The slice
// is valid until the next read.
func (c *conn) line() ([]byte, error) {
	l, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

func parseStatus(line []byte) (int, error) {
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status code in %q", line)
	}
	return code, nil
}

const maxBody = 64 << 20

// readN appends exactly n body bytes to c.body.
func (c *conn) readN(n int64) error {
	if int64(len(c.body))+n > maxBody {
		return fmt.Errorf("response body over %d bytes", maxBody)
	}
	start := len(c.body)
	c.body = grow(c.body, int(n))
	if _, err := io.ReadFull(c.r, c.body[start:start+int(n)]); err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	return nil
}

func (c *conn) readChunked() error {
	for {
		line, err := c.line()
		if err != nil {
			return fmt.Errorf("reading chunk size: %w", err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if size == 0 {
			break
		}
		if err := c.readN(size); err != nil {
			return err
		}
		if l, err := c.line(); err != nil || len(l) != 0 {
			return errors.New("chunk not followed by CRLF")
		}
	}
	for { // trailers
		l, err := c.line()
		if err != nil {
			return fmt.Errorf("reading trailers: %w", err)
		}
		if len(l) == 0 {
			return nil
		}
	}
}

// grow extends b by n bytes, reallocating only when its capacity is short.
func grow(b []byte, n int) []byte {
	if len(b)+n <= cap(b) {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, 2*(len(b)+n))
	copy(nb, b)
	return nb
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
