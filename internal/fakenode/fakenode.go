package fakenode

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Mode is how the node behaves.
type Mode uint32

const (
	// OK answers normally.
	OK Mode = iota
	// Hang accepts requests and never answers (until the request ends).
	Hang
	// Status500 answers every request with HTTP 500.
	Status500
	// Refuse closes the listener: connections are refused.
	Refuse
)

// Node is a fake node.
type Node struct {
	Name string

	chainID   atomic.Uint64
	head      atomic.Uint64
	fork      atomic.Uint64 // the first block of the node's own fork + 1 (0: none)
	mode      atomic.Uint32
	cut       atomic.Pointer[string] // the method whose answers stop halfway (SetCut)
	delay     atomic.Int64           // ns added before every answer
	maxBody   atomic.Int64           // bodies longer are refused with HTTP 413 (0: no limit)
	refused   atomic.Int64           // requests refused with HTTP 413
	holdMu    sync.Mutex             // holdMu protects hold, gaveUp, record and arrivals
	hold      map[string]chan struct{}
	gaveUp    map[string]int64 // method -> held calls whose request ended before Release
	record    map[string]bool
	arrivals  map[string][]string
	requests  atomic.Int64
	calls     sync.Map                  // method -> *atomic.Int64
	results   sync.Map                  // method -> string: a scripted result
	tooMany   atomic.Pointer[[2]string] // method, Retry-After: calls of it get HTTP 429
	bigBlock  []byte
	finalized uint64 // 0: the "finalized" tag is answered like any other block
	slowEvery int64  // every slowEvery-th request waits slowDelay (0: none)
	slowDelay time.Duration
	addr      string
	srv       *http.Server
	mu        sync.Mutex // mu protects ln
	ln        net.Listener
	hangStop  chan struct{}
	closeOnce sync.Once
}

// Options configure a fake node.
type Options struct {
	Name     string
	ChainID  uint64
	Head     uint64
	BigBlock int // size in bytes of eth_getBlockByNumber answers (0: small)
	// Finalized is the block the node answers for the "finalized" and
	// "safe" tags, as a small header (0: those tags get the usual answer).
	Finalized uint64
	// SlowEvery makes every SlowEvery-th request wait SlowDelay before it
	// is answered: a node slow on a fraction of its calls (0: never).
	SlowEvery int
	SlowDelay time.Duration
}

// SetTooMany answers calls of method with HTTP 429 and retryAfter as
// Retry-After ("" sends none), as a provider over its plan does; method ""
// stops it.
func (n *Node) SetTooMany(method, retryAfter string) {
	if method == "" {
		n.tooMany.Store(nil)
		return
	}
	n.tooMany.Store(&[2]string{method, retryAfter})
}

// Start runs a fake node on 127.0.0.1 on a free port.
func Start(o Options) (*Node, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n := &Node{Name: o.Name, ln: ln, addr: ln.Addr().String(), hangStop: make(chan struct{})}
	n.chainID.Store(o.ChainID)
	n.head.Store(o.Head)
	n.finalized, n.slowEvery, n.slowDelay = o.Finalized, int64(o.SlowEvery), o.SlowDelay
	if o.BigBlock > 0 {
		n.bigBlock = makeBigBlock(o.BigBlock)
	}
	n.srv = &http.Server{Handler: n, ReadHeaderTimeout: 5 * time.Second}
	go n.srv.Serve(ln)
	return n, nil
}

// URL is the node's HTTP URL.
func (n *Node) URL() string { return "http://" + n.addr }

// SetHead sets the reported head.
func (n *Node) SetHead(h uint64) { n.head.Store(h) }

// Head returns the reported head.
func (n *Node) Head() uint64 { return n.head.Load() }

// SetDelay makes every answer wait d first (a slow node).
func (n *Node) SetDelay(d time.Duration) { n.delay.Store(int64(d)) }

// SetMaxBody makes the node refuse a request body longer than max bytes
// with HTTP 413, unread, as geth does over 5 MiB (0: no limit).
func (n *Node) SetMaxBody(max int64) { n.maxBody.Store(max) }

// Refused returns how many requests the node refused with HTTP 413.
func (n *Node) Refused() int64 { return n.refused.Load() }

// Hold makes calls of method (alone or in a batch) wait until Release(method): a node
// that is busy exactly as long as a test wants.
func (n *Node) Hold(method string) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if n.hold == nil {
		n.hold = map[string]chan struct{}{}
	}
	if _, ok := n.hold[method]; !ok {
		n.hold[method] = make(chan struct{})
	}
}

// Release lets held calls of method go, and later ones pass.
func (n *Node) Release(method string) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if ch, ok := n.hold[method]; ok {
		close(ch)
		delete(n.hold, method)
	}
}

// GaveUp returns how many held calls of method ended because their request
// did (the caller cut the connection), before Release let them go.
func (n *Node) GaveUp(method string) int64 {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	return n.gaveUp[method]
}

func (n *Node) gaveUpOn(method string) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if n.gaveUp == nil {
		n.gaveUp = map[string]int64{}
	}
	n.gaveUp[method]++
}

func (n *Node) held(method string) chan struct{} {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	return n.hold[method]
}

// Record keeps the ids of the calls of method (alone or in a batch) in the
// order they arrive.
func (n *Node) Record(method string) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if n.record == nil {
		n.record, n.arrivals = map[string]bool{}, map[string][]string{}
	}
	n.record[method] = true
}

// Arrivals returns the raw ids of the recorded calls of method, in arrival order.
func (n *Node) Arrivals(method string) []string {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	return append([]string(nil), n.arrivals[method]...)
}

func (n *Node) arrived(c *jsonrpc.Call) {
	n.holdMu.Lock()
	defer n.holdMu.Unlock()
	if n.record[c.Method] {
		n.arrivals[c.Method] = append(n.arrivals[c.Method], string(c.ID))
	}
}

// SetFork puts the node on a fork of its own from block from on: its
// blocks from there carry another hash than other fake nodes' blocks of
// the same number.
func (n *Node) SetFork(from uint64) { n.fork.Store(from + 1) }

// SetChainID sets the reported chain id.
func (n *Node) SetChainID(id uint64) { n.chainID.Store(id) }

// Requests returns how many HTTP requests reached the node.
func (n *Node) Requests() int64 { return n.requests.Load() }

// Calls returns how many calls of method reached the node.
func (n *Node) Calls(method string) int64 {
	if c, ok := n.calls.Load(method); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// SetResult makes the node answer every call of method with result (raw
// JSON, e.g. `null` or `{"hash":"0x1"}`).
func (n *Node) SetResult(method, result string) { n.results.Store(method, result) }

// SetMode changes the node's behaviour. Refuse closes the listener; leaving
// Refuse listens again on the same address.
func (n *Node) SetMode(m Mode) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := Mode(n.mode.Swap(uint32(m)))
	switch {
	case m == Refuse && old != Refuse:
		// Close the listener and every open connection: a dead node has none.
		n.srv.Close()
	case m != Refuse && old == Refuse:
		ln, err := net.Listen("tcp", n.addr)
		if err != nil {
			return fmt.Errorf("listening again on %s: %w", n.addr, err)
		}
		n.ln = ln
		srv := &http.Server{Handler: n, ReadHeaderTimeout: 5 * time.Second}
		n.srv = srv
		go srv.Serve(ln)
	}
	return nil
}

// Close stops the node.
func (n *Node) Close() {
	n.closeOnce.Do(func() { close(n.hangStop) })
	n.mu.Lock()
	defer n.mu.Unlock()
	n.srv.Close()
	n.ln.Close()
}

func (n *Node) count(method string) {
	c, ok := n.calls.Load(method)
	if !ok {
		c, _ = n.calls.LoadOrStore(method, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
}

// ServeHTTP answers JSON-RPC.
func (n *Node) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nth := n.requests.Add(1)
	switch Mode(n.mode.Load()) {
	case Hang:
		select {
		case <-r.Context().Done():
		case <-n.hangStop:
		}
		return
	case Status500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case Refuse:
		// A request on a connection opened before the listener closed.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		return
	}
	if max := n.maxBody.Load(); max > 0 && r.ContentLength > max {
		n.refused.Add(1)
		http.Error(w, fmt.Sprintf("content length too large (%d>%d)", r.ContentLength, max), http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	d := time.Duration(n.delay.Load())
	if n.slowEvery > 0 && nth%n.slowEvery == 0 {
		d += n.slowDelay
	}
	if d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	calls, batch, perr := jsonrpc.Parse(body)
	if tm := n.tooMany.Load(); tm != nil && !batch && perr == nil && calls[0].Method == tm[0] {
		n.count(tm[0])
		if tm[1] != "" {
			w.Header().Set("Retry-After", tm[1])
		}
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return
	}
	if perr == nil {
		for i := range calls {
			n.arrived(&calls[i])
		}
	}
	// A request waits while any of its calls' methods is held.
	for i := range calls {
		if perr != nil {
			break
		}
		if ch := n.held(calls[i].Method); ch != nil {
			select {
			case <-ch:
			case <-r.Context().Done():
				n.gaveUpOn(calls[i].Method)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if perr != nil {
		w.Write(perr.AppendResponse(nil, nil))
		return
	}
	out := make([]byte, 0, 256)
	if batch {
		out = append(out, '[')
	}
	for i := range calls {
		if i > 0 {
			out = append(out, ',')
		}
		out = n.answer(out, &calls[i])
	}
	if batch {
		out = append(out, ']')
	}
	if !batch && n.cuts(calls[0].Method) {
		// The whole answer's length, half of it, then the connection closed.
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.Write(out[:len(out)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return
	}
	w.Write(out)
}

// SetCut makes answers to single calls of method stop halfway: the node
// sends the whole answer's Content-Length, half the bytes, and closes the
// connection. "" stops it.
func (n *Node) SetCut(method string) { n.cut.Store(&method) }

func (n *Node) cuts(method string) bool {
	m := n.cut.Load()
	return m != nil && *m != "" && *m == method
}

func (n *Node) answer(out []byte, c *jsonrpc.Call) []byte {
	n.count(c.Method)
	ok := func(result string) []byte {
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, c.ID...)
		out = append(out, `,"result":`...)
		out = append(out, result...)
		return append(out, '}')
	}
	fail := func(code int, msg string) []byte {
		return jsonrpc.NewError(code, msg).AppendResponse(out, c.ID)
	}
	if r, found := n.results.Load(c.Method); found {
		return ok(r.(string))
	}
	head := n.head.Load()
	switch c.Method {
	case "eth_chainId":
		return ok(`"0x` + strconv.FormatUint(n.chainID.Load(), 16) + `"`)
	case "net_version":
		return ok(`"` + strconv.FormatUint(n.chainID.Load(), 10) + `"`)
	case "eth_blockNumber":
		return ok(`"0x` + strconv.FormatUint(head, 16) + `"`)
	case "eth_syncing":
		return ok(`false`)
	case "web3_clientVersion":
		return ok(`"` + n.Name + `"`)
	case "eth_getBlockByNumber":
		return ok(n.block(c, head))
	case "eth_getBalance":
		if num, has := c.BlockNumber(); has && num > head {
			return fail(-32000, "header not found")
		}
		return ok(`"0xde0b6b3a7640000"`)
	case "eth_call":
		return fail(3, "execution reverted")
	case "fakenode_calls":
		// How many calls of the method named in params reached this node:
		// the node-side count a benchmark in another process reads.
		m := strings.Trim(string(c.Params), `[]" `)
		return ok(`"0x` + strconv.FormatInt(n.Calls(m), 16) + `"`)
	case "flashbots_validateBuilderSubmissionV3", "flashbots_validateBuilderSubmissionV4":
		// A block builder's validation node answers null for a valid block.
		return ok(`null`)
	case "eth_sendRawTransaction":
		if n.Calls("eth_sendRawTransaction") > 1 {
			return fail(-32000, "already known")
		}
		return ok(`"0xsent"`)
	}
	return fail(jsonrpc.CodeMethodNotFound, "the method "+c.Method+" does not exist/is not available")
}

// block answers eth_getBlockByNumber: null above the head, a header for the
// "finalized" tag or for hashes only, else the big block when there is one.
func (n *Node) block(c *jsonrpc.Call, head uint64) string {
	num, has := c.BlockNumber()
	if has && num > head {
		return `null`
	}
	params := string(c.Params)
	if n.finalized > 0 && (strings.Contains(params, `"finalized"`) || strings.Contains(params, `"safe"`)) {
		return n.smallBlock(n.finalized)
	}
	if has && strings.HasSuffix(params, `,false]`) {
		// Transaction hashes only: a header-sized answer.
		return n.smallBlock(num)
	}
	if n.bigBlock != nil && !strings.Contains(params, `"latest",false`) {
		return string(n.bigBlock)
	}
	return `{"number":"0x` + strconv.FormatUint(head, 16) + `","timestamp":"0x` + strconv.FormatInt(time.Now().Unix(), 16) + `"}`
}

// smallBlock is a header-sized block answer of number num: hash 0xefef...
// on the chain every fake node shares, 0xf0f0... on the node's own fork.
func (n *Node) smallBlock(num uint64) string {
	hash := "ef"
	if f := n.fork.Load(); f != 0 && num >= f-1 {
		hash = "f0"
	}
	return `{"number":"0x` + strconv.FormatUint(num, 16) + `","hash":"0x` + strings.Repeat(hash, 32) +
		`","parentHash":"0x` + strings.Repeat("01", 32) + `","timestamp":"0x6553f100","transactions":[]}`
}

// makeBigBlock returns a block-shaped JSON object of about size bytes.
func makeBigBlock(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"number":"0x1","hash":"0x` + strings.Repeat("ab", 32) + `","transactions":[`)
	tx := `{"hash":"0x` + strings.Repeat("cd", 32) + `","input":"0x` + strings.Repeat("00", 200) + `"}`
	for i := 0; b.Len() < size-len(tx)-2; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tx)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
