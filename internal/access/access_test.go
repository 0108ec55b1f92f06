package access

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/sched"
)

const (
	aliceKey = "alice-secret-key-0123456789"
	bobKey   = "bob-secret-key-0123456789ab"
)

func newAccess(t testing.TB, cfg Config) *Access {
	t.Helper()
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func request(hdr ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/mainnet", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func keysConfig() Config {
	return Config{Keys: []KeySpec{
		{Name: "alice", Key: aliceKey, Networks: []string{"mainnet"},
			Methods: MethodPolicy{Allow: []string{"eth_*", "admin_nodeInfo"}, Deny: []string{"eth_sendRawTransaction"}},
			Class:   "high", Limit: Limit{Rate: 10, Burst: 2}, Costs: map[string]int{"eth_getLogs": 2}},
		{Name: "bob", KeySHA256: hexHash(bobKey), Expires: "2001-01-01T00:00:00Z"},
	}}
}

func hexHash(s string) string {
	h := Hash(s)
	const digits = "0123456789abcdef"
	var b strings.Builder
	for _, c := range h {
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

func TestIdentify(t *testing.T) {
	a := newAccess(t, keysConfig())
	cases := []struct {
		name, network, pathKey string
		hdr                    []string
		code                   int // 0: identified
		msg                    string
		who                    string
	}{
		{name: "path key", network: "mainnet", pathKey: aliceKey, who: "alice"},
		{name: "X-API-Key", network: "mainnet", hdr: []string{"X-API-Key", aliceKey}, who: "alice"},
		{name: "bearer", network: "mainnet", hdr: []string{"Authorization", "Bearer " + aliceKey}, who: "alice"},
		{name: "missing", network: "mainnet", code: jsonrpc.CodeUnauthorized, msg: "an API key is required"},
		{name: "wrong", network: "mainnet", pathKey: "nope-nope-nope-nope", code: jsonrpc.CodeUnauthorized, msg: "the API key is not valid"},
		{name: "expired", network: "mainnet", hdr: []string{"X-API-Key", bobKey}, code: jsonrpc.CodeUnauthorized,
			msg: `the API key "bob" expired at 2001-01-01T00:00:00Z`},
		{name: "other network", network: "sepolia", pathKey: aliceKey, code: jsonrpc.CodeForbidden,
			msg: `the API key "alice" may not call network "sepolia"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, e := a.Identify(request(c.hdr...), c.network, c.pathKey)
			if c.code == 0 {
				if e != nil || caller.Name() != c.who {
					t.Fatalf("got %v, %v; want %s", caller.Name(), e, c.who)
				}
				return
			}
			if e == nil || e.Code != c.code || !strings.HasPrefix(e.Message, c.msg) {
				t.Fatalf("got %v; want code %d %q", e, c.code, c.msg)
			}
			for _, secret := range []string{aliceKey, bobKey, c.pathKey} {
				if secret != "" && strings.Contains(e.Message, secret) {
					t.Fatalf("the error shows the key: %s", e.Message)
				}
			}
		})
	}
}

func TestOpenWithoutKeys(t *testing.T) {
	a := newAccess(t, Config{})
	if !a.Open() {
		t.Fatal("no keys: want open")
	}
	c, e := a.Identify(request(), "mainnet", "")
	if e != nil || c.Name() != "" {
		t.Fatalf("got %v %v", c, e)
	}
	if e := a.Method(c, "mainnet", "eth_call"); e != nil {
		t.Fatal(e)
	}
	for _, m := range []string{"admin_peers", "personal_sign", "miner_start", "engine_newPayloadV4"} {
		e := a.Method(c, "mainnet", m)
		if e == nil || e.Code != jsonrpc.CodeMethodNotOffered || e.Message != `method "`+m+`" is not offered on this endpoint` {
			t.Fatalf("%s: got %v", m, e)
		}
	}
	for _, m := range []string{"debug_traceTransaction", "trace_block", "txpool_status"} {
		if e := a.Method(c, "mainnet", m); e != nil {
			t.Fatalf("%s: %v", m, e)
		}
	}
}

func TestMethodPolicyLayers(t *testing.T) {
	cfg := keysConfig()
	cfg.Methods.Deny = []string{"debug_*"}
	cfg.Networks = map[string]NetworkPolicy{"mainnet": {Methods: MethodPolicy{Deny: []string{"eth_getProof"}}}}
	a := newAccess(t, cfg)
	alice, _ := a.Identify(request(), "mainnet", aliceKey)
	cases := []struct {
		method string
		code   int
	}{
		{"eth_call", 0},
		{"admin_nodeInfo", 0},                             // the key's allow list opens a refused namespace
		{"admin_peers", jsonrpc.CodeForbidden},            // outside the key's allow list
		{"eth_sendRawTransaction", jsonrpc.CodeForbidden}, // the key's deny list
		{"eth_getProof", jsonrpc.CodeMethodNotOffered},    // the network's deny list
		{"debug_traceTransaction", jsonrpc.CodeForbidden}, // outside the key's allow list (and globally denied)
		{"net_version", jsonrpc.CodeForbidden},            // outside the key's allow list
	}
	for _, c := range cases {
		e := a.Method(alice, "mainnet", c.method)
		switch {
		case c.code == 0 && e != nil:
			t.Errorf("%s: refused: %v", c.method, e)
		case c.code != 0 && (e == nil || e.Code != c.code):
			t.Errorf("%s: got %v, want code %d", c.method, e, c.code)
		}
	}
	if e := a.Method(nil, "mainnet", "debug_traceTransaction"); e == nil || e.Code != jsonrpc.CodeMethodNotOffered {
		t.Errorf("the global deny list: got %v", e)
	}
	if e := a.Method(alice, "mainnet", "net_version"); !strings.Contains(e.Message, `"alice"`) {
		t.Errorf("a key's refusal names the key: %s", e.Message)
	}
}

func TestKeyClassCapsHeaders(t *testing.T) {
	a := newAccess(t, keysConfig())
	alice, _ := a.Identify(request(), "mainnet", aliceKey)
	if got := alice.Class(http.Header{}); got != sched.High {
		t.Errorf("no header: got %s, want the key's class high", got)
	}
	if got := alice.Class(http.Header{"X-Fast-Track": {"true"}}); got != sched.High {
		t.Errorf("asking fast_track: got %s, want capped at high", got)
	}
	var anon *Caller
	if got := anon.Class(http.Header{"X-Fast-Track": {"true"}}); got != sched.FastTrack {
		t.Errorf("anonymous: got %s, want the header's fast_track", got)
	}
}

func TestLocalRateLimit(t *testing.T) {
	a := newAccess(t, keysConfig())
	now := time.Unix(1_700_000_000, 0)
	a.now = func() time.Time { return now }
	alice, _ := a.Identify(request(), "mainnet", aliceKey)
	ctx := context.Background()
	for i := range 2 {
		if _, e := a.Take(ctx, alice, 1); e != nil {
			t.Fatalf("call %d within the burst: %v", i, e)
		}
	}
	retry, e := a.Take(ctx, alice, 1)
	if e == nil || e.Code != jsonrpc.CodeRateLimited || retry <= 0 || retry > 100*time.Millisecond {
		t.Fatalf("over the burst: got %v retry %v", e, retry)
	}
	if !strings.Contains(e.Message, `API key "alice"`) {
		t.Errorf("the refusal names the key: %s", e.Message)
	}
	now = now.Add(100 * time.Millisecond) // one token back at 10/s
	if _, e := a.Take(ctx, alice, 1); e != nil {
		t.Fatalf("after the wait: %v", e)
	}
	if cost := a.Cost(alice, "eth_getLogs"); cost != 2 {
		t.Fatalf("key cost: got %d", cost)
	}
	if _, e := a.Take(ctx, alice, 3); e == nil || !strings.Contains(e.Message, "more than the burst") {
		t.Fatalf("a call costlier than the burst: got %v", e)
	}
}

func TestPerIPLimitAndTrustedProxies(t *testing.T) {
	a := newAccess(t, Config{PerIP: Limit{Rate: 1, Burst: 1}, TrustedProxies: []string{"10.0.0.0/8"}})
	ctx := context.Background()
	from := func(peer string, hdr ...string) *Caller {
		r := request(hdr...)
		r.RemoteAddr = peer
		c, e := a.Identify(r, "mainnet", "")
		if e != nil {
			t.Fatal(e)
		}
		return c
	}
	// Behind the trusted proxy, each forwarded client has its own bucket.
	if _, e := a.Take(ctx, from("10.1.1.1:5000", "X-Forwarded-For", "203.0.113.7"), 1); e != nil {
		t.Fatal(e)
	}
	if _, e := a.Take(ctx, from("10.1.1.1:5000", "X-Forwarded-For", "203.0.113.8, 10.2.2.2"), 1); e != nil {
		t.Fatal(e)
	}
	if _, e := a.Take(ctx, from("10.1.1.1:5000", "Forwarded", `for="203.0.113.7:1234"`), 1); e == nil {
		t.Fatal("203.0.113.7 twice: want refused")
	}
	// An untrusted peer cannot pick its bucket with the header.
	if _, e := a.Take(ctx, from("198.51.100.1:5000", "X-Forwarded-For", "203.0.113.9"), 1); e != nil {
		t.Fatal(e)
	}
	if _, e := a.Take(ctx, from("198.51.100.1:5000", "X-Forwarded-For", "203.0.113.10"), 1); e == nil {
		t.Fatal("an untrusted peer's second call: want refused")
	}
}

func TestDailyQuota(t *testing.T) {
	cfg := Config{Keys: []KeySpec{{Name: "q", Key: aliceKey, DailyQuota: 5}}}
	a := newAccess(t, cfg)
	now := time.Date(2026, 1, 2, 23, 59, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	c, _ := a.Identify(request(), "mainnet", aliceKey)
	if _, e := a.Take(context.Background(), c, 5); e != nil {
		t.Fatal(e)
	}
	retry, e := a.Take(context.Background(), c, 1)
	if e == nil || e.Code != jsonrpc.CodeQuotaExceeded || retry != time.Minute {
		t.Fatalf("got %v retry %v", e, retry)
	}
	now = now.Add(time.Minute)
	if _, e := a.Take(context.Background(), c, 1); e != nil {
		t.Fatalf("the next day: %v", e)
	}
}

func TestValidateNamesKeys(t *testing.T) {
	cfg := Config{Keys: []KeySpec{{Name: "x", Key: "short", Class: "urgent", Limit: Limit{Rate: 5}}},
		Methods: MethodPolicy{Deny: []string{"de*bug"}}, TrustedProxies: []string{"nope"}, RedisFailMode: "maybe"}
	cfg.Default()
	err := cfg.Validate()
	for _, want := range []string{"access.keys[0].key: too short", "access.keys[0].class", "access.keys[0].limit: burst is 0",
		"access.methods.deny[0]", "access.trusted_proxies[0]", "access.redis_fail_mode"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "short\"") {
		t.Errorf("the error shows the key: %v", err)
	}
}

// The first runtime key turns an open gateway keyed, and says so once;
// with require_key: false it stays open, and nothing is said.
func TestFirstRuntimeKeyWarns(t *testing.T) {
	for _, open := range []bool{false, true} {
		cfg := Config{}
		if open {
			cfg.RequireKey = new(bool) // require_key: false
		}
		a := newAccess(t, cfg)
		var logged bytes.Buffer
		a.log = slog.New(slog.NewTextHandler(&logged, nil))
		a.store = NewFileStore(filepath.Join(t.TempDir(), "keys.json"))
		h := a.Handler()
		for _, name := range []string{"first", "second"} {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/admin/keys", strings.NewReader(`{"name":"`+name+`"}`)))
			if w.Code != http.StatusCreated {
				t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
			}
		}
		warned := strings.Count(logged.String(), "client access now requires an API key or a token")
		if want := map[bool]int{false: 1, true: 0}[open]; warned != want || a.Open() != open {
			t.Fatalf("require_key false=%v: warned %d times (want %d), open %v\n%s", open, warned, want, a.Open(), logged.String())
		}
		// A restart reads the stored keys: nothing changed, nothing is said.
		restarted := newAccess(t, cfg)
		logged.Reset()
		restarted.log = slog.New(slog.NewTextHandler(&logged, nil))
		restarted.store = a.store
		if err := restarted.sync(t.Context()); err != nil {
			t.Fatal(err)
		}
		if restarted.Open() != open || strings.Contains(logged.String(), "now requires") {
			t.Fatalf("after a restart: open %v\n%s", restarted.Open(), logged.String())
		}
	}
}

func TestConfigRefuses(t *testing.T) {
	t.Parallel()
	c := Config{
		Methods:  MethodPolicy{Deny: []string{"debug_*"}},
		Networks: map[string]NetworkPolicy{"relay": {Methods: MethodPolicy{Allow: []string{"eth_sendRawTransaction"}}}},
	}
	for _, tc := range []struct {
		network, method string
		want            bool
	}{
		{"relay", "eth_blockNumber", true},         // outside the network's allow list
		{"relay", "eth_sendRawTransaction", false}, // named by it
		{"relay", "debug_traceCall", true},         // denied by access.methods
		{"mainnet", "debug_traceCall", true},
		{"mainnet", "eth_blockNumber", false}, // no layer refuses it
	} {
		if got := c.Refuses(tc.network, tc.method); got != tc.want {
			t.Errorf("Refuses(%s, %s) = %v, want %v", tc.network, tc.method, got, tc.want)
		}
	}
}

// Re-reading runtime keys that did not change makes no new snapshot (open
// WebSockets would check their keys again, and JWT key files be re-read);
// a change does.
func TestSyncWithoutChangeKeepsTheSnapshot(t *testing.T) {
	a := newAccess(t, Config{})
	a.store = NewFileStore(filepath.Join(t.TempDir(), "keys.json"))
	h := a.Handler()
	create := func(name string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/admin/keys", strings.NewReader(`{"name":"`+name+`"}`)))
		if w.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, w.Code, w.Body)
		}
	}
	create("first")
	if err := a.sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	gen := a.snap.Load().gen
	for range 3 {
		if err := a.sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.snap.Load().gen; got != gen {
		t.Fatalf("re-reading the same keys made snapshot %d after %d", got, gen)
	}
	other := newAccess(t, Config{}) // another replica, same store
	other.store = a.store
	other.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/admin/keys", strings.NewReader(`{"name":"second"}`)))
	if err := a.sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.snap.Load().gen; got == gen {
		t.Fatal("a key added by another replica made no new snapshot")
	}
}
