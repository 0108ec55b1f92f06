package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fake execution clients, only for faults a real geth cannot be made to
// produce on demand: INVALID_BLOCK_HASH, hangs, garbage, scripted
// disagreement. Everything else is tested against real nodes
// (engine_devnet_test.go).

// answer is what a fake node sends back for one call.
type answer struct {
	result string        // raw JSON result
	rpcErr string        // raw JSON error object
	status int           // HTTP status other than 200
	body   string        // raw body, overrides everything else
	hold   chan struct{} // wait until closed (or the request is cancelled) before answering
}

type fakeEL struct {
	srv    *httptest.Server
	secret Secret
	path   string // secret file

	mu      sync.Mutex // protects script, calls, syncing
	script  map[string]func(params json.RawMessage) answer
	calls   []request
	syncing string
}

func randomSecret(t testing.TB) (Secret, string) {
	t.Helper()
	var s Secret
	if _, err := rand.Read(s[:]); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwt.hex")
	if err := os.WriteFile(path, []byte("0x"+hex.EncodeToString(s[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, path
}

// newFakeEL starts a fake node with its own JWT secret; it rejects tokens
// signed with any other key, as geth does.
func newFakeEL(t testing.TB) *fakeEL {
	t.Helper()
	f := &fakeEL{script: map[string]func(json.RawMessage) answer{}, syncing: "false"}
	f.secret, f.path = randomSecret(t)
	verify := NewVerifier(f.secret, nil)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := verify.Check(r.Header.Get("Authorization")); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req request
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		a := f.answerFor(req)
		if a.hold != nil {
			select {
			case <-a.hold:
			case <-r.Context().Done():
				return
			}
		}
		f.write(w, req, a)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEL) answerFor(req request) answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, req)
	if h, ok := f.script[req.Method]; ok {
		return h(req.Params)
	}
	if req.Method == "eth_syncing" {
		return answer{result: f.syncing}
	}
	return answer{rpcErr: `{"code":-32601,"message":"the method ` + req.Method + ` does not exist/is not available"}`}
}

func (f *fakeEL) write(w http.ResponseWriter, req request, a answer) {
	switch {
	case a.body != "":
		_, _ = io.WriteString(w, a.body)
	case a.status != 0:
		http.Error(w, "fake failure", a.status)
	case a.rpcErr != "":
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"error":`+a.rpcErr+`}`)
	default:
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":`+string(req.ID)+`,"result":`+a.result+`}`)
	}
}

// on scripts a fixed answer for a method.
func (f *fakeEL) on(method string, a answer) {
	f.onFunc(method, func(json.RawMessage) answer { return a })
}

func (f *fakeEL) onFunc(method string, h func(json.RawMessage) answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script[method] = h
}

func (f *fakeEL) setSyncing(result string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncing = result
}

// callsOf returns the params of every call of method received so far.
func (f *fakeEL) callsOf(method string) []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []json.RawMessage
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c.Params)
		}
	}
	return out
}

// testMux is a Mux serving on an httptest server, driven by a test CL.
type testMux struct {
	*Mux
	srv    *httptest.Server
	secret Secret
}

// muxOption edits the configuration before New.
type muxOption func(*Config)

func newTestMux(t testing.TB, fakes []*fakeEL, opts ...muxOption) *testMux {
	t.Helper()
	secret, path := randomSecret(t)
	cfg := Config{Enabled: true, JWTSecretPath: path, NodeTimeout: "5s", AdminToken: "admin-token-0123456"}
	for _, f := range fakes {
		cfg.Nodes = append(cfg.Nodes, NodeConfig{URL: f.srv.URL, JWTSecretPath: f.path})
	}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tm := &testMux{Mux: m, srv: httptest.NewServer(m.Handler()), secret: secret}
	t.Cleanup(func() {
		tm.srv.Close()
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tm
}

// post sends a raw JSON-RPC body with a fresh token and returns the HTTP
// status and body.
func (tm *testMux) post(t testing.TB, body string) (int, []byte) {
	t.Helper()
	return tm.postAuth(t, "Bearer "+tm.secret.Mint(time.Now()), body)
}

func (tm *testMux) postAuth(t testing.TB, auth, body string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tm.srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := tm.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("posting to mux: %v", err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

// call sends one call and returns the raw result, or fails on an error.
func (tm *testMux) call(t testing.TB, method, params string) json.RawMessage {
	t.Helper()
	res := tm.callRaw(t, method, params)
	if res.failed() {
		t.Fatalf("%s: error %s", method, res.Error)
	}
	return res.Result
}

func (tm *testMux) callRaw(t testing.TB, method, params string) response {
	t.Helper()
	code, body := tm.post(t, `{"jsonrpc":"2.0","id":7,"method":"`+method+`","params":`+params+`}`)
	if code != http.StatusOK {
		t.Fatalf("%s: http %d %s", method, code, body)
	}
	var res response
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("%s: decoding %s: %v", method, body, err)
	}
	if !bytes.Equal(res.ID, []byte("7")) {
		t.Fatalf("%s: id %s, want 7", method, res.ID)
	}
	return res
}

// Canned PayloadStatus results.
const (
	hashA = "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hashB = "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func statusJSON(status, lvh string) string {
	l := "null"
	if lvh != "" {
		l = `"` + lvh + `"`
	}
	return `{"status":"` + status + `","latestValidHash":` + l + `,"validationError":null}`
}

func fcuJSON(status, lvh, payloadID string) string {
	id := "null"
	if payloadID != "" {
		id = `"` + payloadID + `"`
	}
	return `{"payloadStatus":` + statusJSON(status, lvh) + `,"payloadId":` + id + `}`
}

const newPayloadParams = `[{"blockHash":"` + hashA + `"},[],"` + hashB + `",[]]`

func fcuParams(withAttrs bool) string {
	state := `{"headBlockHash":"` + hashA + `","safeBlockHash":"` + hashA + `","finalizedBlockHash":"` + hashA + `"}`
	if !withAttrs {
		return `[` + state + `,null]`
	}
	return `[` + state + `,{"timestamp":"0x10"}]`
}
