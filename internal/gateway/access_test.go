package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/fakenode"
)

const (
	aliceKey   = "alice-0123456789abcdef"
	expiredKey = "expired-0123456789abcdef"
)

// accessYAML serves mainnet and sepolia over f, with keys required.
func accessYAML(f *fakenode.Node, stateFile, access string) string {
	node := fmt.Sprintf("    local_nodes:\n      - rpc_endpoint: %q\n        name: %s\n", f.URL(), f.Name)
	nets := "log_level: DEBUG\nlisten_addr: 127.0.0.1\nnetworks:\n"
	for _, n := range []string{"mainnet", "sepolia"} {
		nets += "  - name: " + n + "\n    local_poll_interval: 50ms\n    rpc_timeout: 2s\n" + node
	}
	return nets + "admin:\n  on_rpc: true\n  state_file: " + stateFile + "\naccess:\n" + access
}

const slowKey = "slow-0123456789abcdef"

const keysAccess = `  keys:
    - name: slow
      key: ` + slowKey + `
      limit: {rate: 0.1, burst: 2}
    - name: alice
      key: ` + aliceKey + `
      networks: [mainnet]
      methods: {allow: ["eth_*"], deny: [eth_getProof]}
    - name: old
      key: ` + expiredKey + `
      expires: "2001-01-01T00:00:00Z"
`

// rpcError is a JSON-RPC error answer.
type rpcError struct {
	ID    json.RawMessage `json:"id"`
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Result json.RawMessage `json:"result"`
}

func decodeAnswer(t *testing.T, body string) rpcError {
	t.Helper()
	var e rpcError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not a JSON-RPC answer: %q", body)
	}
	return e
}

func wantRefusal(t *testing.T, what string, r reply, status, code int, msg string) {
	t.Helper()
	e := decodeAnswer(t, r.body)
	if r.status != status || e.Error.Code != code || !strings.Contains(e.Error.Message, msg) {
		t.Errorf("%s: got %d %s; want %d, code %d, %q", what, r.status, r.body, status, code, msg)
	}
	for _, secret := range []string{aliceKey, expiredKey} {
		if strings.Contains(r.body, secret) {
			t.Errorf("%s: the answer shows a key", what)
		}
	}
}

func TestKeysOverHTTP(t *testing.T) {
	f := fakes(t, 1)[0]
	g := startGateway(t, accessYAML(f, filepath.Join(t.TempDir(), "state.json"), keysAccess))
	base := g.RPCURL()
	// Refused calls use methods the health probes never send, so that the
	// node's count of them is the refused calls that reached it.
	gasPrice := `{"jsonrpc":"2.0","id":7,"method":"eth_gasPrice","params":[]}`
	refused := func() int64 { return f.Calls("eth_gasPrice") + f.Calls("net_version") + f.Calls("eth_getProof") }
	before := refused()

	wantRefusal(t, "no key", post(t, base+"/mainnet", gasPrice), 401, -32070, "an API key is required")
	wantRefusal(t, "wrong key", post(t, base+"/mainnet/wrong-key-0123456789", gasPrice), 401, -32070, "the API key is not valid")
	wantRefusal(t, "expired", post(t, base+"/mainnet", gasPrice, "X-API-Key", expiredKey), 401, -32070,
		`the API key "old" expired at 2001-01-01T00:00:00Z`)
	wantRefusal(t, "other network", post(t, base+"/sepolia/"+aliceKey, gasPrice), 403, -32071,
		`the API key "alice" may not call network "sepolia"`)
	wantRefusal(t, "method outside the allow list", post(t, base+"/mainnet/"+aliceKey,
		`{"jsonrpc":"2.0","id":3,"method":"net_version","params":[]}`), 403, -32071, `the API key "alice" may not call method "net_version"`)
	wantRefusal(t, "denied method", post(t, base+"/mainnet", `{"jsonrpc":"2.0","id":3,"method":"eth_getProof","params":[]}`,
		"Authorization", "Bearer "+aliceKey), 403, -32071, `method "eth_getProof"`)
	if n := refused(); n != before {
		t.Errorf("refused calls reached the node: %d calls", n-before)
	}

	r := post(t, base+"/mainnet/"+aliceKey, blockNumber)
	if e := decodeAnswer(t, r.body); r.status != 200 || e.Result == nil {
		t.Fatalf("alice's call: %d %s", r.status, r.body)
	}
	// A batch is refused call by call: the allowed calls are served.
	r = post(t, base+"/mainnet/"+aliceKey, `[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},`+
		`{"jsonrpc":"2.0","id":2,"method":"admin_peers","params":[]}]`)
	var batch []rpcError
	if err := json.Unmarshal([]byte(r.body), &batch); err != nil || r.status != 200 || len(batch) != 2 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if batch[0].Result == nil || batch[1].Error.Code != -32071 || string(batch[1].ID) != "2" {
		t.Fatalf("batch answers: %s", r.body)
	}
}

func TestDefaultMethodPolicyOnOpenGateway(t *testing.T) {
	f := fakes(t, 1)[0]
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f)))
	for _, m := range []string{"admin_peers", "personal_listAccounts", "miner_start", "engine_exchangeCapabilities"} {
		wantRefusal(t, m, post(t, g.RPCURL()+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"`+m+`","params":[]}`),
			403, -32072, `method "`+m+`" is not offered on this endpoint`)
	}
	if r := post(t, g.RPCURL()+"/mainnet", blockNumber); r.status != 200 {
		t.Fatalf("open gateway: %d %s", r.status, r.body)
	}
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") }

func wsCall(t *testing.T, c *websocket.Conn, body string) rpcError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(body)); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAnswer(t, string(b))
}

func TestKeysOverWebSocket(t *testing.T) {
	f := fakes(t, 1)[0]
	g := startGateway(t, accessYAML(f, filepath.Join(t.TempDir(), "state.json"), keysAccess))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		what, path string
		hdr        http.Header
		status     int
		msg        string
	}{
		{"no key", "/mainnet", nil, 401, "an API key is required"},
		{"wrong key", "/mainnet/wrong-key-0123456789", nil, 401, "the API key is not valid"},
		{"expired", "/mainnet", http.Header{"X-Api-Key": {expiredKey}}, 401, `the API key "old" expired`},
		{"other network", "/sepolia/" + aliceKey, nil, 403, `may not call network "sepolia"`},
	} {
		_, resp, err := websocket.Dial(ctx, wsURL(g.RPCURL())+c.path, &websocket.DialOptions{HTTPHeader: c.hdr})
		if err == nil || resp == nil {
			t.Fatalf("%s: the upgrade was accepted", c.what)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantRefusal(t, c.what, reply{status: resp.StatusCode, body: string(b)}, c.status, map[int]int{401: -32070, 403: -32071}[c.status], c.msg)
	}
	conn, _, err := websocket.Dial(ctx, wsURL(g.RPCURL())+"/mainnet/"+aliceKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if e := wsCall(t, conn, blockNumber); e.Result == nil {
		t.Fatalf("alice over WebSocket: %+v", e)
	}
	if e := wsCall(t, conn, `{"jsonrpc":"2.0","id":5,"method":"net_version","params":[]}`); e.Error.Code != -32071 || string(e.ID) != "5" {
		t.Fatalf("a refused method over WebSocket: %+v", e)
	}
	// A connection is limited per message: "slow" has a burst of 2.
	slow, _, err := websocket.Dial(ctx, wsURL(g.RPCURL())+"/mainnet/"+slowKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	for range 2 {
		if e := wsCall(t, slow, blockNumber); e.Result == nil {
			t.Fatalf("within the burst over WebSocket: %+v", e)
		}
	}
	if e := wsCall(t, slow, blockNumber); e.Error.Code != -32073 || !strings.Contains(e.Error.Message, `API key "slow"`) {
		t.Fatalf("over the limit over WebSocket: %+v", e)
	}
	if v := metricValue(t, g.MetricsURL(), `evmgate_access_refused_total{reason="rate_limited"}`); v != "1" {
		t.Errorf("rate_limited refusals counted: %q", v)
	}
}

func TestRuntimeKeysThroughAdminAPI(t *testing.T) {
	f := fakes(t, 1)[0]
	g := startGateway(t, accessYAML(f, filepath.Join(t.TempDir(), "state.json"), keysAccess))
	base := g.RPCURL()
	admin := func(method, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	status, created := admin("POST", "/admin/keys", `{"name":"carol","networks":["sepolia"],"limit":{"rate":100,"burst":10}}`)
	secret, _ := created["key"].(string)
	if status != 201 || secret == "" {
		t.Fatalf("create: %d %v", status, created)
	}
	if r := post(t, base+"/sepolia/"+secret, blockNumber); r.status != 200 {
		t.Fatalf("carol's new key: %d %s", r.status, r.body)
	}
	if status, out := admin("POST", "/admin/keys", `{"name":"dave","networks":["nosuch"]}`); status != 400 ||
		!strings.Contains(fmt.Sprint(out["error"]), `no network is named "nosuch"`) {
		t.Fatalf("a key for an unknown network: %d %v", status, out)
	}
	// A misspelt setting is refused, not dropped: "limt" ignored would
	// make a key with no limit.
	if status, out := admin("POST", "/admin/keys", `{"name":"erin","limt":{"rate":1,"burst":1}}`); status != 400 ||
		!strings.Contains(fmt.Sprint(out["error"]), `unknown field "limt"`) {
		t.Fatalf("a key with a misspelt setting: %d %v", status, out)
	}
	if status, out := admin("POST", "/admin/keys", `{"name":"frank"} {"name":"grace"}`); status != 400 || !strings.Contains(fmt.Sprint(out["error"]), "more than one JSON value") {
		t.Fatalf("two keys in one body: %d %v", status, out)
	}
	// A key as GET /admin/keys lists it may be posted again (its listing's
	// own fields are ignored).
	if status, out := admin("POST", "/admin/keys", `{"name":"heidi","networks":["sepolia"],"limit":{"burst":10,"rate":100},"methods":{},"created":"2026-01-01T00:00:00Z","source":"runtime"}`); status != 201 {
		t.Fatalf("a listed key posted again: %d %v", status, out)
	}
	if status, _ := admin("POST", "/admin/keys", `{"name":"carol"}`); status != 409 {
		t.Fatalf("a second carol: %d", status)
	}
	status, list := admin("GET", "/admin/keys", "")
	listed, _ := json.Marshal(list)
	if status != 200 || !strings.Contains(string(listed), `"carol"`) || !strings.Contains(string(listed), `"alice"`) ||
		strings.Contains(string(listed), secret) || strings.Contains(string(listed), aliceKey) ||
		!strings.Contains(string(listed), `"limit":{"burst":10,"rate":100}`) || strings.Contains(string(listed), `"Rate"`) ||
		strings.Contains(string(listed), `"erin"`) {
		t.Fatalf("list: %d %s", status, listed)
	}
	status, rotated := admin("POST", "/admin/keys/carol/rotate", "")
	next, _ := rotated["key"].(string)
	if status != 200 || next == "" || next == secret {
		t.Fatalf("rotate: %d %v", status, rotated)
	}
	wantRefusal(t, "the rotated-out key", post(t, base+"/sepolia/"+secret, blockNumber), 401, -32070, `the API key "carol" was revoked`)
	if r := post(t, base+"/sepolia/"+next, blockNumber); r.status != 200 {
		t.Fatalf("the rotated key: %d %s", r.status, r.body)
	}
	if status, _ := admin("DELETE", "/admin/keys/carol", ""); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	wantRefusal(t, "the revoked key", post(t, base+"/sepolia/"+next, blockNumber), 401, -32070, `the API key "carol" was revoked`)
	if status, _ := admin("DELETE", "/admin/keys/alice", ""); status != 404 {
		t.Fatalf("revoking a key of the file: %d, want 404", status)
	}
}

func TestLocalRateLimitAnswers429(t *testing.T) {
	f := fakes(t, 1)[0]
	g := startGateway(t, accessYAML(f, filepath.Join(t.TempDir(), "state.json"), `  keys:
    - name: slow
      key: `+aliceKey+`
      limit: {rate: 0.5, burst: 3}
`))
	url := g.RPCURL() + "/mainnet/" + aliceKey
	for i := range 3 {
		if r := post(t, url, blockNumber); r.status != 200 {
			t.Fatalf("call %d within the burst: %d %s", i, r.status, r.body)
		}
	}
	r := post(t, url, blockNumber)
	wantRefusal(t, "over the burst", r, 429, -32073, `rate limit of API key "slow" exceeded`)
	if ra := r.header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After: got %q, want 2 (one token at 0.5/s)", ra)
	}
}

func TestAccessReloaded(t *testing.T) {
	f := fakes(t, 1)[0]
	state := filepath.Join(t.TempDir(), "state.json")
	g := startGateway(t, accessYAML(f, state, "  methods: {deny: [eth_chainId]}\n"))
	if r := post(t, g.RPCURL()+"/mainnet", blockNumber); r.status != 200 {
		t.Fatalf("open before the reload: %d %s", r.status, r.body)
	}
	next, err := config.Parse([]byte(accessYAML(f, state, keysAccess)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Reload(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, "no key after the reload", post(t, g.RPCURL()+"/mainnet", blockNumber), 401, -32070, "an API key is required")
	if r := post(t, g.RPCURL()+"/mainnet/"+aliceKey, blockNumber); r.status != 200 {
		t.Fatalf("alice after the reload: %d %s", r.status, r.body)
	}
}
