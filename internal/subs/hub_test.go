package subs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/methodset"
	"github.com/evmgate/evmgate/internal/upstream"
	"go.uber.org/goleak"
)

// fakeChain is a node's chain for the fake node: blocks by number and hash,
// and the logs of each block.
type fakeChain struct {
	mu     sync.Mutex
	byNum  map[uint64]string
	blocks map[string]string // hash → block JSON
	logs   map[uint64][]string
	head   uint64
}

func newFakeChain() *fakeChain {
	return &fakeChain{byNum: map[uint64]string{}, blocks: map[string]string{}, logs: map[uint64][]string{}}
}

func blockJSON(num uint64, hash, parent string) string {
	return fmt.Sprintf(`{"hash":"%s","number":"0x%x","parentHash":"%s","size":"0x1","transactions":[],"uncles":[]}`, hash, num, parent)
}

// add appends blocks from..to of branch b on top of parent, each with one
// log when withLogs.
func (c *fakeChain) add(b string, from, to uint64, parent string, withLogs bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := from; n <= to; n++ {
		hash := fmt.Sprintf("0x%s%d", b, n)
		c.byNum[n], c.blocks[hash] = hash, blockJSON(n, hash, parent)
		if withLogs {
			c.logs[n] = []string{string(logJSON(n, hash, 0, false))}
		}
		parent = hash
		c.head = n
	}
}

func (c *fakeChain) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage   `json:"id"`
		Method string            `json:"method"`
		Params []json.RawMessage `json:"params"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var p0 string
	if len(req.Params) > 0 {
		_ = json.Unmarshal(req.Params[0], &p0)
	}
	result := "null"
	switch req.Method {
	case "eth_blockNumber":
		result = fmt.Sprintf(`"0x%x"`, c.head)
	case "eth_getBlockByHash":
		if b, ok := c.blocks[p0]; ok {
			result = b
		}
	case "eth_getBlockByNumber":
		num := c.head
		if p0 != "latest" {
			num, _ = parseQuantity(p0)
		}
		if h, ok := c.byNum[num]; ok {
			result = c.blocks[h]
		}
	case "eth_getLogs":
		var f struct{ FromBlock, ToBlock string }
		_ = json.Unmarshal(req.Params[0], &f)
		from, _ := parseQuantity(f.FromBlock)
		to, _ := parseQuantity(f.ToBlock)
		var out []string
		for n := from; n <= to; n++ {
			out = append(out, c.logs[n]...)
		}
		result = "[" + strings.Join(out, ",") + "]"
	}
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, req.ID, result)
}

// fakeStreams hands out streams the test feeds by hand.
type fakeStreams struct {
	mu      sync.Mutex
	streams map[string][]*fakeStream // by node name
	opened  chan string
}

type fakeStream struct {
	endable
	params string
}

func (s *fakeStream) Close() { s.end(errUnsubscribedTest) }

var errUnsubscribedTest = fmt.Errorf("unsubscribed")

func (f *fakeStreams) Subscribe(_ context.Context, n *upstream.Node, params []byte) (Stream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeStream{newEndable(64), string(params)}
	f.streams[n.Name] = append(f.streams[n.Name], s)
	f.opened <- n.Name
	return s, nil
}

// find returns the stream opened on node name for the kind.
func (f *fakeStreams) find(t *testing.T, name, kind string) *fakeStream {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.streams[name] {
		if strings.Contains(s.params, kind) {
			return s
		}
	}
	t.Fatalf("no %s stream on %s", kind, name)
	return nil
}

// sink records what it is given.
type sink struct{ ch chan []byte }

func (s sink) Deliver(r []byte) { s.ch <- r }

func serveChain(t *testing.T, name string, c *fakeChain) *upstream.Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return upstream.New(upstream.Spec{Name: name, URL: "http://" + ln.Addr().String(), WSURL: "ws://unused", Timeout: time.Second})
}

func expect(t *testing.T, ch chan []byte, want ...string) {
	t.Helper()
	for _, w := range want {
		select {
		case got := <-ch:
			if !strings.Contains(string(got), w) {
				t.Fatalf("got %s, want it to contain %s", got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("timed out waiting for %s", w)
		}
	}
	select {
	case got := <-ch:
		t.Fatalf("unexpected delivery %s", got)
	default:
	}
}

// TestFeedMovesAcrossAReorg: the node serving a feed dies; the next node is
// on another branch from block 4. newHeads delivers the new branch from the
// fork point; logs re-sends the old branch's logs with removed: true and
// delivers the new branch's logs, each once.
func TestFeedMovesAcrossAReorg(t *testing.T) {
	a, b := newFakeChain(), newFakeChain()
	a.add("a", 1, 5, "0xg", true)
	b.add("a", 1, 3, "0xg", true)
	b.add("b", 4, 6, "0xa3", true)
	na, nb := serveChain(t, "a", a), serveChain(t, "b", b)
	st := &fakeStreams{streams: map[string][]*fakeStream{}, opened: make(chan string, 16)}
	hub := NewHub(Config{Grace: time.Millisecond, PollInterval: time.Second, CallTimeout: time.Second,
		CheckInterval: time.Hour, MaxGap: 16}, "dev", balancer.NewPool(balancer.Rules{}, []*upstream.Node{na, nb}),
		st, slog.New(slog.DiscardHandler), nil)
	defer hub.Close()

	heads, logs := sink{make(chan []byte, 64)}, sink{make(chan []byte, 64)}
	if _, err := hub.Subscribe(context.Background(), []byte(`["newHeads"]`), heads); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Subscribe(context.Background(), []byte(`["logs",{"address":"0x01"}]`), logs); err != nil {
		t.Fatal(err)
	}
	if got := []string{<-st.opened, <-st.opened}; got[0] != "a" || got[1] != "a" { // a is first in the pool
		t.Fatalf("opened on %v, want a, a", got)
	}
	// Both streams on a deliver blocks 4 and 5 (the logs feed started at a's head 5).
	hs, ls := st.find(t, "a", "newHeads"), st.find(t, "a", "logs")
	for _, n := range []uint64{4, 5} {
		h := fmt.Sprintf("0xa%d", n)
		hs.push(Event{Result: []byte(blockJSON(n, h, fmt.Sprintf("0xa%d", n-1)))})
		ls.push(Event{Result: logJSON(n, h, 0, false)})
	}
	expect(t, heads.ch, `"0xa4"`, `"0xa5"`)
	expect(t, logs.ch, `"blockHash":"0xa4"`, `"blockHash":"0xa5"`)

	hs.end(fmt.Errorf("connection lost"))
	ls.end(fmt.Errorf("connection lost"))
	<-st.opened
	<-st.opened
	expect(t, heads.ch, `"0xb4"`, `"0xb5"`, `"0xb6"`)
	expect(t, logs.ch, `"blockHash":"0xa4","logIndex":"0x0","removed":true`, `"blockHash":"0xa5","logIndex":"0x0","removed":true`,
		`"blockHash":"0xb4"`, `"blockHash":"0xb5"`, `"blockHash":"0xb6"`)
	// b pushes block 6 and its log again, then 7: only 7 is new.
	bh, bl := st.find(t, "b", "newHeads"), st.find(t, "b", "logs")
	b.add("b", 7, 7, "0xb6", true)
	bh.push(Event{Result: []byte(blockJSON(6, "0xb6", "0xb5"))})
	bh.push(Event{Result: []byte(blockJSON(7, "0xb7", "0xb6"))})
	bl.push(Event{Result: logJSON(6, "0xb6", 0, false)})
	bl.push(Event{Result: logJSON(7, "0xb7", 0, false)})
	expect(t, heads.ch, `"0xb7"`)
	expect(t, logs.ch, `"blockHash":"0xb7"`)
}

// TestPollingFeedAndGraceClose: a node without WebSocket feeds newHeads by
// polling; when the last subscriber leaves, the feed closes after the
// grace, and closing the hub leaves no goroutine behind.
func TestPollingFeedAndGraceClose(t *testing.T) {
	c := newFakeChain()
	c.add("a", 1, 3, "0xg", false)
	nd := serveChain(t, "a", c)
	nd.WSURL = ""
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer nd.Close()
	st := &fakeStreams{streams: map[string][]*fakeStream{}, opened: make(chan string, 16)}
	hub := NewHub(Config{Grace: 50 * time.Millisecond, PollInterval: 10 * time.Millisecond, CallTimeout: time.Second,
		CheckInterval: time.Hour, MaxGap: 16}, "dev", balancer.NewPool(balancer.Rules{}, []*upstream.Node{nd}),
		st, slog.New(slog.DiscardHandler), nil)
	defer hub.Close()

	heads := sink{make(chan []byte, 64)}
	sub, err := hub.Subscribe(context.Background(), []byte(`["newHeads"]`), heads)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Subscribe(context.Background(), []byte(`["newPendingTransactions"]`), heads); err == nil ||
		!strings.Contains(err.Error(), "ws_endpoint") {
		t.Fatalf("pending transactions without WebSocket: %v", err)
	}
	c.add("a", 4, 6, "0xa3", false)
	expect(t, heads.ch, `"0xa4"`, `"0xa5"`, `"0xa6"`)
	if h := string(<-waitFor(heads.ch, c, "a", 7)); !strings.Contains(h, `"0xa7"`) || strings.Contains(h, "transactions") {
		t.Fatalf("polled header %s", h)
	}
	sub.Close()
	deadline := time.Now().Add(5 * time.Second)
	for hub.Feeds() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the feed outlived its grace")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFor adds block n of branch b and returns ch.
func waitFor(ch chan []byte, c *fakeChain, b string, n uint64) chan []byte {
	c.add(b, n, n, fmt.Sprintf("0x%s%d", b, n-1), false)
	return ch
}

// A node whose methods lists refuse eth_subscribe, or the calls that fill
// a feed's gaps, serves no subscription.
func TestFeedSkipsNodeRefusingSubscribe(t *testing.T) {
	chains := []*fakeChain{newFakeChain(), newFakeChain(), newFakeChain()}
	var nodes []*upstream.Node
	for i, c := range chains {
		c.add("a", 1, 5, "0xg", false)
		nodes = append(nodes, serveChain(t, string(rune('a'+i)), c))
	}
	nodes[0].Methods = methodset.NewFilter(methodset.Lists{Deny: []string{"eth_subscribe"}})
	nodes[1].Methods = methodset.NewFilter(methodset.Lists{Deny: []string{"eth_getLogs"}})
	st := &fakeStreams{streams: map[string][]*fakeStream{}, opened: make(chan string, 16)}
	hub := NewHub(Config{Grace: time.Millisecond, PollInterval: time.Second, CallTimeout: time.Second,
		CheckInterval: time.Hour, MaxGap: 16}, "dev", balancer.NewPool(balancer.Rules{}, nodes),
		st, slog.New(slog.DiscardHandler), nil)
	defer hub.Close()
	heads, logs := sink{make(chan []byte, 64)}, sink{make(chan []byte, 64)}
	if _, err := hub.Subscribe(context.Background(), []byte(`["newHeads"]`), heads); err != nil {
		t.Fatal(err)
	}
	if got := <-st.opened; got != "b" {
		t.Fatalf("newHeads opened on %s, want b (a's methods lists refuse eth_subscribe)", got)
	}
	if _, err := hub.Subscribe(context.Background(), []byte(`["logs",{"address":"0x01"}]`), logs); err != nil {
		t.Fatal(err)
	}
	if got := <-st.opened; got != "c" {
		t.Fatalf("logs opened on %s, want c (b's methods lists refuse eth_getLogs)", got)
	}
}
