package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// floor serves the least a Go proxy can do per call, as a yardstick for
// evmgate's own cost: a goroutine per client connection reading and
// writing through the runtime's poller (evmgate's shape), each request
// sent on a kept-alive connection to the next node in turn and its answer
// sent back. It parses nothing but the HTTP framing (Content-Length, or
// chunks from a node) and keeps no metrics, limits, timeouts or health. The gap between it and
// evmgate in one bench/run.sh run is what evmgate's work per call costs;
// the gap between it and HAProxy is what Go's runtime costs.
func floor(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("floor", flag.ContinueOnError)
	nodes := fs.String("nodes", "", "comma-separated http:// URLs of the nodes")
	port := fs.Int("port", 0, "port on 127.0.0.1 (0: any free one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var addrs []string
	for _, n := range strings.Split(*nodes, ",") {
		u, err := url.Parse(n)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("-nodes %q: want http://host:port URLs without a path, comma-separated", *nodes)
		}
		addrs = append(addrs, u.Host)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("-port %d: use 0 to 65535", *port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return err
	}
	p := &floorProxy{nodes: addrs, idle: make([]chan *floorNodeConn, len(addrs))}
	for i := range p.idle {
		p.idle[i] = make(chan *floorNodeConn, 1024)
	}
	fmt.Fprintf(stdout, "http://%s/\n", ln.Addr())
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	go func() {
		<-ctx.Done()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serve(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	p.closeIdle()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

type floorProxy struct {
	nodes []string
	next  atomic.Uint64
	idle  []chan *floorNodeConn // kept-alive connections, per node
}

type floorNodeConn struct {
	net.Conn
	buf []byte
}

// maxFloorMessage bounds a request or an answer.
const maxFloorMessage = 16 << 20

var errFloorFraming = errors.New("floor: a message framed by neither Content-Length nor chunks, or too large")

// readMessage reads one HTTP message into *buf (kept and grown between
// calls) after the n bytes already there. It returns where the message
// ends in *buf, its body (a chunked body is joined in place) and how many
// bytes *buf now holds.
func readMessage(c net.Conn, buf *[]byte, n int) (end int, body []byte, have int, err error) {
	for {
		end, body, err = framing((*buf)[:n])
		if err != nil {
			return 0, nil, n, err
		}
		if end > 0 {
			return end, body, n, nil
		}
		if n == len(*buf) {
			if len(*buf) >= maxFloorMessage {
				return 0, nil, n, errFloorFraming
			}
			grown := make([]byte, 2*len(*buf))
			copy(grown, (*buf)[:n])
			*buf = grown
		}
		m, err := c.Read((*buf)[n:])
		n += m
		if err != nil {
			return 0, nil, n, err
		}
	}
}

// framing finds one whole message at the start of b: where it ends and its
// body, or 0 while b holds only part of it.
func framing(b []byte) (end int, body []byte, err error) {
	h := bytes.Index(b, []byte("\r\n\r\n"))
	if h < 0 {
		return 0, nil, nil
	}
	start := h + 4
	for header := b[:h]; len(header) > 0; {
		line := header
		if i := bytes.Index(header, []byte("\r\n")); i >= 0 {
			line, header = header[:i], header[i+2:]
		} else {
			header = nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case strings.EqualFold(string(name), "content-length"):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 || n > maxFloorMessage {
				return 0, nil, errFloorFraming
			}
			if len(b) < start+n {
				return 0, nil, nil
			}
			return start + n, b[start : start+n], nil
		case strings.EqualFold(string(name), "transfer-encoding") && strings.EqualFold(string(value), "chunked"):
			return dechunk(b, start)
		}
	}
	return 0, nil, errFloorFraming
}

// dechunk joins a chunked body that starts at b[start:] once all of it is
// in b, moving each chunk's data next to the one before.
func dechunk(b []byte, start int) (end int, body []byte, err error) {
	// First find the end, touching nothing: b may still grow.
	var sizes []int
	at := start
	for {
		i := bytes.Index(b[at:], []byte("\r\n"))
		if i < 0 {
			return 0, nil, nil
		}
		sizeText, _, _ := bytes.Cut(b[at:at+i], []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 32)
		if err != nil || size < 0 || size > maxFloorMessage {
			return 0, nil, errFloorFraming
		}
		at += i + 2
		if size == 0 {
			if len(b) < at+2 {
				return 0, nil, nil
			}
			end = at + 2 // no trailers
			break
		}
		if len(b) < at+int(size)+2 {
			return 0, nil, nil
		}
		sizes = append(sizes, int(size))
		at += int(size) + 2
	}
	out, at := start, start
	for _, size := range sizes {
		at += bytes.Index(b[at:], []byte("\r\n")) + 2
		out += copy(b[out:], b[at:at+size])
		at += size + 2
	}
	return end, b[start:out], nil
}

func (p *floorProxy) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	out := make([]byte, 0, 16<<10)
	n := 0
	for {
		end, body, have, err := readMessage(c, &buf, n)
		if err != nil {
			return
		}
		i := int(p.next.Add(1) % uint64(len(p.nodes)))
		nc, answer, err := p.call(i, body, &out)
		if err != nil {
			return
		}
		out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(answer)), 10)
		out = append(out, "\r\n\r\n"...)
		out = append(out, answer...)
		p.put(i, nc)
		if _, err := c.Write(out); err != nil {
			return
		}
		n = copy(buf, buf[end:have])
	}
}

// call sends one request body to node i and reads its answer.
func (p *floorProxy) call(i int, payload []byte, out *[]byte) (*floorNodeConn, []byte, error) {
	nc, err := p.get(i)
	if err != nil {
		return nil, nil, err
	}
	req := append((*out)[:0], "POST / HTTP/1.1\r\nHost: "...)
	req = append(req, p.nodes[i]...)
	req = append(req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(payload)), 10)
	req = append(req, "\r\n\r\n"...)
	req = append(req, payload...)
	*out = req
	if _, err := nc.Write(req); err != nil {
		nc.Close()
		return nil, nil, err
	}
	end, answer, have, err := readMessage(nc, &nc.buf, 0)
	if err == nil && have != end { // a node sends nothing unasked
		err = errFloorFraming
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, answer, nil
}

func (p *floorProxy) get(i int) (*floorNodeConn, error) {
	select {
	case nc := <-p.idle[i]:
		return nc, nil
	default:
	}
	c, err := net.Dial("tcp", p.nodes[i])
	if err != nil {
		return nil, err
	}
	return &floorNodeConn{Conn: c, buf: make([]byte, 16<<10)}, nil
}

func (p *floorProxy) put(i int, nc *floorNodeConn) {
	select {
	case p.idle[i] <- nc:
	default:
		nc.Close()
	}
}

func (p *floorProxy) closeIdle() {
	for _, ch := range p.idle {
		for {
			select {
			case nc := <-ch:
				nc.Close()
				continue
			default:
			}
			break
		}
	}
}
