package access

import (
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/golang-jwt/jwt/v5"
)

// A caller identified once (a WebSocket's upgrade) is checked again as
// the keys change: the same caller while nothing changed, the key's new
// settings after a reload, and the refusal HTTP would answer once the key
// is removed, revoked, expired or kept off the network.
func TestRecheck(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newAccess(t, keysConfig())
	a.now = func() time.Time { return now }
	identify := func(key string) *Caller {
		t.Helper()
		c, e := a.Identify(request("X-API-Key", key), "mainnet", "")
		if e != nil {
			t.Fatal(e)
		}
		return c
	}
	refused := func(c *Caller, network string, code int, msg string) {
		t.Helper()
		if _, e := a.Recheck(c, network); e == nil || e.Code != code || !strings.Contains(e.Message, msg) {
			t.Fatalf("recheck: %v, want %d %q", e, code, msg)
		}
	}
	alice := identify(aliceKey)
	if c, e := a.Recheck(alice, "mainnet"); c != alice || e != nil {
		t.Fatalf("nothing changed: %v %v, want the same caller", c, e)
	}

	cfg := keysConfig()
	cfg.Keys[0].Class = "low"
	cfg.Default()
	if err := a.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	c, e := a.Recheck(alice, "mainnet")
	if e != nil || c == alice || c.Name() != "alice" || c.Key.class != identify(aliceKey).Key.class {
		t.Fatalf("after a reload changing the key: %v %v, want its new settings", c, e)
	}
	if again, _ := a.Recheck(c, "mainnet"); again != c {
		t.Fatal("a caller checked under the current keys was checked again")
	}

	cfg.Keys[0].Networks = []string{"sepolia"}
	if err := a.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	refused(c, "mainnet", jsonrpc.CodeForbidden, `the API key "alice" may not call network "mainnet"`)

	cfg.Keys = cfg.Keys[1:]
	if err := a.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	refused(c, "mainnet", jsonrpc.CodeUnauthorized, `the API key "alice" is no longer valid: it was removed`)

	// A runtime key revoked through the admin API.
	h := Hash(bobKey + "-runtime")
	live := storedKey{Spec: KeySpec{Name: "dapp"}, hash: h}
	if err := a.setRuntime([]storedKey{live}); err != nil {
		t.Fatal(err)
	}
	dapp := identify(bobKey + "-runtime")
	live.Revoked = true
	if err := a.setRuntime([]storedKey{live}); err != nil {
		t.Fatal(err)
	}
	refused(dapp, "mainnet", jsonrpc.CodeUnauthorized, `the API key "dapp" was revoked`)

	// A key that expires while the connection is open: no change to the
	// keys, only the clock.
	live = storedKey{Spec: KeySpec{Name: "brief", Expires: "2030-01-01T00:01:00Z"}, hash: Hash("brief-0123456789abcdef")}
	if err := a.setRuntime([]storedKey{live}); err != nil {
		t.Fatal(err)
	}
	brief := identify("brief-0123456789abcdef")
	if _, e := a.Recheck(brief, "mainnet"); e != nil {
		t.Fatal(e)
	}
	now = now.Add(time.Minute)
	refused(brief, "mainnet", jsonrpc.CodeUnauthorized, `the API key "brief" expired at 2030-01-01T00:01:00Z`)

	// A keyless caller of a gateway that now requires a key.
	open := newAccess(t, Config{})
	anon, _ := open.Identify(request(), "mainnet", "")
	if c, e := open.Recheck(anon, "mainnet"); c != anon || e != nil {
		t.Fatalf("keyless on an open gateway: %v %v", c, e)
	}
	if err := open.SetConfig(keysConfig()); err != nil {
		t.Fatal(err)
	}
	if _, e := open.Recheck(anon, "mainnet"); e == nil || e.Code != jsonrpc.CodeUnauthorized {
		t.Fatalf("keyless once keys are required: %v", e)
	}
}

// A token's exp ends a connection it opened, past the leeway; a token the
// reloaded configuration no longer verifies is refused.
func TestRecheckToken(t *testing.T) {
	f := newJWTFixture(t)
	now := time.Now()
	f.a.now = func() time.Time { return now }
	tok := f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"exp": now.Add(time.Minute).Unix()}, "")
	c, e := f.a.Identify(request("Authorization", "Bearer "+tok), "mainnet", "")
	if e != nil {
		t.Fatal(e)
	}
	if _, e := f.a.Recheck(c, "mainnet"); e != nil {
		t.Fatal(e)
	}
	now = now.Add(time.Minute + 29*time.Second) // within the default leeway of 30s
	if _, e := f.a.Recheck(c, "mainnet"); e != nil {
		t.Fatalf("within the leeway: %v", e)
	}
	now = now.Add(2 * time.Second)
	if _, e := f.a.Recheck(c, "mainnet"); e == nil || !strings.Contains(e.Message, "it expired (exp)") {
		t.Fatalf("past exp and the leeway: %v", e)
	}

	now = time.Now()
	fresh := f.sign(t, jwt.SigningMethodHS256, f.hmac, nil, "")
	c, e = f.a.Identify(request("Authorization", "Bearer "+fresh), "mainnet", "")
	if e != nil {
		t.Fatal(e)
	}
	cfg := f.a.cfg
	cfg.JWT.HMACSecretFile = writeTemp(t, strings.Repeat("r", 40))
	if err := f.a.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if _, e = f.a.Recheck(c, "mainnet"); e == nil || !strings.Contains(e.Message, "its signature does not verify") {
		t.Fatalf("a token signed with the secret a reload replaced: %v", e)
	}
	if strings.Contains(e.Message, fresh) {
		t.Fatal("the error shows the token")
	}
}
