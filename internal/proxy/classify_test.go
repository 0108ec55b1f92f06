package proxy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/health"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
)

// scripted is a node's transport in memory: it answers every request with
// what answer returns for its body, in reads of at most chunk bytes. It
// stands for node software other than geth (members in another order, ids
// echoed re-encoded, answers past a limit), which no devnet node gives on
// demand.
type scripted struct {
	answer func(req []byte) (status int, body []byte)
	chunk  int
	length bool // send Content-Length
}

func (s *scripted) RoundTrip(r *http.Request) (*http.Response, error) {
	req, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	status, body := s.answer(req)
	resp := &http.Response{
		Status: strconv.Itoa(status), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/json"}}, ContentLength: -1, Request: r,
		Body: io.NopCloser(&chunkReader{b: body, n: max(s.chunk, 1)}),
	}
	if s.length {
		resp.ContentLength = int64(len(body))
	}
	return resp, nil
}

// chunkReader returns b at most n bytes per read.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

// blame keeps the tries' errors that count against the node, as passive
// health counts them.
type blame struct {
	mu   sync.Mutex // mu protects errs
	errs []error
}

func (b *blame) Observe(_ *upstream.Node, err error) {
	if health.Counts(err) {
		b.mu.Lock()
		b.errs = append(b.errs, err)
		b.mu.Unlock()
	}
}

func (b *blame) get() []error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]error(nil), b.errs...)
}

// handlerOpts are what tests vary: MaxAnswerBytes (0: the default), the
// tries after the first, request_timeout (0: 10s).
type handlerOpts struct {
	limit          int64
	retries        int
	requestTimeout time.Duration
}

// newScriptedHandler serves network "mem" over one healthy node carried by
// rt, with rpc_timeout 5s.
func newScriptedHandler(t testing.TB, rt http.RoundTripper, o handlerOpts) (*proxy.Handler, *blame) {
	t.Helper()
	n := upstream.New(upstream.Spec{Name: "s", Network: "mem", URL: "http://127.0.0.1:1", Timeout: 5 * time.Second, Transport: rt})
	n.SetChainID(1)
	n.SetState(upstream.Up)
	n.ObserveHead(1000, time.Now().Unix(), time.Millisecond)
	b := &blame{}
	pool := balancer.NewPool(balancer.Rules{NetworkBlockDiff: 5}, []*upstream.Node{n})
	net := &proxy.Network{Name: "mem", Pool: pool, Health: b, Retries: o.retries, TryTimeout: 5 * time.Second}
	if o.requestTimeout == 0 {
		o.requestTimeout = 10 * time.Second
	}
	opts := proxy.Options{MaxBodyBytes: 8 << 20, MaxBatchSize: 100, RequestTimeout: o.requestTimeout, MaxAnswerBytes: o.limit}
	return proxy.New(opts, []*proxy.Network{net}, slog.New(slog.DiscardHandler), nil), b
}

func serve(h *proxy.Handler, body []byte) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/mem", bytes.NewReader(body)))
	return w
}

func call(id string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"eth_chainId","params":[]}`)
}

// answerWith answers every call with template, its $ID replaced by the
// request's id.
func answerWith(status int, template string) func([]byte) (int, []byte) {
	return func(req []byte) (int, []byte) {
		calls, _, _ := jsonrpc.Parse(req)
		id := "null"
		if len(calls) > 0 && calls[0].ID != nil {
			id = string(calls[0].ID)
		}
		return status, []byte(strings.ReplaceAll(template, "$ID", id))
	}
}

func TestSingleAnswerClassified(t *testing.T) {
	longID := `"` + strings.Repeat(`x"{\"id\":1,\"result\":2}<&>`, 4_000) + `"`
	longID = strings.ReplaceAll(longID, `x"`, `x\"`)
	big := `"0x` + strings.Repeat("ab", 512<<10) + `"` // 1 MB: streamed past a 64 KB limit
	tests := []struct {
		name     string
		id       string
		status   int
		answer   string
		limit    int64
		want     string // the client's body; "" means the answer itself
		code     int    // the client's HTTP status
		blamed   bool
		contains string
	}{
		{name: "long id before result", id: longID, answer: `{"jsonrpc":"2.0","id":$ID,"result":"0x1"}`},
		{name: "long id before error", id: longID, answer: `{"jsonrpc":"2.0","id":$ID,"error":{"code":-32601,"message":"no such method"}}`},
		{name: "result first", id: longID, answer: `{"result":{"a":[1,2]},"id":$ID,"jsonrpc":"2.0"}`},
		{name: "error before id", id: longID, answer: `{"error":{"code":3,"message":"execution reverted"},"jsonrpc":"2.0","id":$ID}`},
		{name: "null error alone", id: "1", answer: `{"jsonrpc":"2.0","id":1,"error":null}`},
		{name: "result past the limit", id: "1", answer: `{"jsonrpc":"2.0","id":1,"result":` + big + `}`, limit: 64 << 10},
		{name: "id re-encoded", id: `"a<b>&c"`, answer: `{"jsonrpc":"2.0","id":"a\u003cb\u003e\u0026c","result":"0x1"}`,
			want: `{"jsonrpc":"2.0","id":"a<b>&c","result":"0x1"}`},
		{name: "error id re-encoded", id: `"<"`, answer: `{"jsonrpc":"2.0","id":"\u003c","error":{"code":1,"message":"m"}}`,
			want: `{"jsonrpc":"2.0","id":"<","error":{"code":1,"message":"m"}}`},
		{name: "id over the limit", id: longID, answer: `{"jsonrpc":"2.0","id":$ID,"result":"0x1"}`, limit: 64 << 10,
			contains: `"code":-32055`},
		{name: "error over the limit", id: "1", answer: `{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"m","data":` + big + `}}`,
			limit: 64 << 10, contains: `"code":-32055`},
		{name: "http 413", id: "1", status: 413, answer: `request entity too large`, code: 413, contains: `"code":-32054`},
		{name: "http 500", id: "1", status: 500, answer: `oops`, code: 503, blamed: true},
		{name: "not json", id: "1", answer: `<html>bad gateway</html>`, code: 503, blamed: true},
		{name: "neither result nor error", id: longID, answer: `{"jsonrpc":"2.0","id":$ID}`, code: 503, blamed: true},
		{name: "cut short", id: longID, answer: `{"jsonrpc":"2.0","id":$ID`, code: 503, blamed: true},
	}
	for _, tt := range tests {
		for _, length := range []bool{false, true} {
			t.Run(tt.name+"/length "+strconv.FormatBool(length), func(t *testing.T) {
				status := tt.status
				if status == 0 {
					status = http.StatusOK
				}
				node := &scripted{answer: answerWith(status, tt.answer), chunk: 1000, length: length}
				h, b := newScriptedHandler(t, node, handlerOpts{limit: tt.limit, retries: 1})
				w := serve(h, call(tt.id))
				code := tt.code
				if code == 0 {
					code = http.StatusOK
				}
				_, answer := node.answer(call(tt.id))
				want := tt.want
				if want == "" && tt.contains == "" && code == http.StatusOK {
					want = string(answer)
				}
				got := w.Body.String()
				if w.Code != code || want != "" && got != want || !strings.Contains(got, tt.contains) {
					t.Fatalf("answer %d %.300s, want %d %.300s (containing %q)", w.Code, got, code, want, tt.contains)
				}
				if cl := w.Header().Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(got)) {
					t.Fatalf("Content-Length %s for %d bytes", cl, len(got))
				}
				if errs := b.get(); (len(errs) > 0) != tt.blamed {
					t.Fatalf("blamed %v, want %v", errs, tt.blamed)
				}
			})
		}
	}
}

func TestBatchAnswerClassified(t *testing.T) {
	req := `[{"jsonrpc":"2.0","id":"a<b","method":"eth_chainId"},{"jsonrpc":"2.0","method":"eth_chainId"},` +
		`{"jsonrpc":"2.0","id":"a<b","method":"net_version"},{"jsonrpc":"2.0","id":"[{\"id\":1}]","method":"eth_chainId"}]`
	tests := []struct {
		name   string
		req    string
		answer string
		limit  int64
		want   string
		blamed bool
	}{
		{name: "reordered and re-encoded", req: req,
			answer: `[{"jsonrpc":"2.0","id":"[{\"id\":1}]","result":3},{"jsonrpc":"2.0","id":"a\u003cb","result":1},{"jsonrpc":"2.0","id":"a\u003cb","result":2}]`,
			want:   `[{"jsonrpc":"2.0","id":"a<b","result":1},{"jsonrpc":"2.0","id":"a<b","result":2},{"jsonrpc":"2.0","id":"[{\"id\":1}]","result":3}]`},
		{name: "deep result, id last", req: `[{"jsonrpc":"2.0","id":1,"method":"debug_traceTransaction"}]`,
			answer: `[{"jsonrpc":"2.0","result":` + strings.Repeat(`{"calls":[`, 300) + strings.Repeat(`]}`, 300) + `,"id":1}]`,
			want:   `[{"jsonrpc":"2.0","result":` + strings.Repeat(`{"calls":[`, 300) + strings.Repeat(`]}`, 300) + `,"id":1}]`},
		{name: "only notifications", req: `[{"jsonrpc":"2.0","method":"eth_chainId"},{"jsonrpc":"2.0","method":"net_version"}]`,
			answer: ``, want: ``},
		{name: "over the limit", req: `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]`, limit: 1 << 10,
			answer: `[{"jsonrpc":"2.0","id":1,"result":"` + strings.Repeat("x", 2<<10) + `"}]`,
			want:   `[{"jsonrpc":"2.0","id":1,"error":{"code":-32055,"message":"answer too large: the answer is over the gateway's limit of 1024 bytes: ask for less (a smaller block range, fewer calls per batch)"}}]`},
		{name: "not an array", req: `[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}]`, answer: `<html>`, blamed: true,
			want: `[{"jsonrpc":"2.0","id":1,"error":{"code":-32050,"message":"no node could answer: s: malformed: answer to a batch is not a JSON array; s: malformed: answer to a batch is not a JSON array"}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &scripted{answer: func([]byte) (int, []byte) { return 200, []byte(tt.answer) }, chunk: 7}
			h, b := newScriptedHandler(t, node, handlerOpts{limit: tt.limit, retries: 1})
			w := serve(h, []byte(tt.req))
			if w.Code != http.StatusOK || w.Body.String() != tt.want {
				t.Fatalf("answer %d %s\nwant %s", w.Code, w.Body, tt.want)
			}
			if errs := b.get(); (len(errs) > 0) != tt.blamed {
				t.Fatalf("blamed %v, want %v", errs, tt.blamed)
			}
		})
	}
}

// hanging is a node that never answers.
type hanging struct{}

func (hanging) RoundTrip(r *http.Request) (*http.Response, error) {
	<-r.Context().Done()
	return nil, r.Context().Err()
}

// TestCallDeadlineIsNotTheNodes: a try that the call's own deadline
// (request_timeout, shorter than rpc_timeout) ends is answered as a
// timeout and not counted against the node, which may simply have been
// given too little time.
func TestCallDeadlineIsNotTheNodes(t *testing.T) {
	h, b := newScriptedHandler(t, hanging{}, handlerOpts{requestTimeout: 100 * time.Millisecond})
	w := serve(h, call("1"))
	if w.Code != http.StatusGatewayTimeout || !strings.Contains(w.Body.String(), `"code":-32052`) {
		t.Fatalf("answer %d %s, want a -32052 timeout", w.Code, w.Body)
	}
	if errs := b.get(); len(errs) > 0 {
		t.Fatalf("blamed: %v", errs)
	}
}

// FuzzAnswerBlame feeds random answers, in reads of random sizes, to random
// calls and batches through the handler: a node is never blamed for an
// answer that is valid JSON-RPC (a JSON object with jsonrpc and id and
// exactly one of result and error, or an array of them, or nothing for a
// batch of notifications), and the client then gets HTTP 200. $ID in the
// answer stands for the call's id.
func FuzzAnswerBlame(f *testing.F) {
	for _, s := range []struct {
		id, answer string
	}{
		{`"abc"`, `{"jsonrpc":"2.0","id":$ID,"result":"0x1"}`},
		{`7`, `{"result":[],"id":$ID,"jsonrpc":"2.0"}`},
		{`"<&>"`, `{"error":{"code":3,"message":"x"},"jsonrpc":"2.0","id":"\u003c\u0026\u003e"}`},
		{`"x"`, `[{"jsonrpc":"2.0","id":$ID,"result":1},{"jsonrpc":"2.0","id":$ID,"error":{"code":1,"message":"m"}}]`},
		{`null`, ` {"jsonrpc":"2.0","id":$ID,"error":null,"result":null}`},
		{`"q"`, `{"jsonrpc":"2.0","id":$ID}`},
		{`"q"`, ``},
	} {
		f.Add(s.id, s.answer, uint8(3), uint8(1), uint8(5))
	}
	f.Fuzz(func(t *testing.T, id, template string, chunk, limit, shape uint8) {
		idJSON := fuzzID(id)
		req, batch := fuzzRequest(idJSON, shape, strings.HasPrefix(strings.TrimSpace(template), "["))
		answer := strings.ReplaceAll(template, "$ID", idJSON)
		node := &scripted{answer: func([]byte) (int, []byte) { return 200, []byte(answer) }, chunk: int(chunk) + 1, length: shape&16 != 0}
		h, b := newScriptedHandler(t, node, handlerOpts{limit: int64(limit) * 256})
		w := serve(h, req)
		if !validAnswer([]byte(answer), batch) {
			return
		}
		if errs := b.get(); len(errs) > 0 {
			t.Fatalf("request %.200s, answer %.200q: the node is blamed: %v", req, answer, errs)
		}
		if w.Code != http.StatusOK {
			t.Fatalf("request %.200s, answer %.200q: HTTP %d %.200s", req, answer, w.Code, w.Body)
		}
	})
}

// fuzzID makes a valid id of s: s itself when it is one, else s as a string.
func fuzzID(s string) string {
	if json.Valid([]byte(s)) && s != "" && strings.ContainsAny(s[:1], `"-0123456789n`) {
		return s
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// fuzzRequest builds a call with id, or a batch of one to four calls with
// that id (notifications where shape's bits say).
func fuzzRequest(id string, shape uint8, batch bool) ([]byte, bool) {
	if !batch {
		return call(id), false
	}
	var parts []string
	for k := range 1 + int(shape>>5)%4 {
		if shape&(1<<k) != 0 {
			parts = append(parts, `{"jsonrpc":"2.0","method":"eth_chainId"}`)
		} else {
			parts = append(parts, string(call(id)))
		}
	}
	return []byte("[" + strings.Join(parts, ",") + "]"), true
}

// validAnswer is the oracle: a JSON-RPC response object, or for a batch an
// array of them or an empty body.
func validAnswer(answer []byte, batch bool) bool {
	if !batch {
		return validResponse(answer)
	}
	if len(bytes.TrimSpace(answer)) == 0 {
		return true
	}
	var els []json.RawMessage
	if json.Unmarshal(answer, &els) != nil {
		return false
	}
	for _, el := range els {
		if !validResponse(el) {
			return false
		}
	}
	return true
}

func validResponse(b []byte) bool {
	var m map[string]json.RawMessage
	if !json.Valid(b) || json.Unmarshal(b, &m) != nil || m == nil {
		return false
	}
	_, v := m["jsonrpc"]
	_, id := m["id"]
	_, res := m["result"]
	_, e := m["error"]
	return v && id && res != e
}
