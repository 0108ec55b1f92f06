package access

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func preflight(a *Access, network, origin, pathKey string) (*httptest.ResponseRecorder, bool) {
	r := httptest.NewRequest(http.MethodOptions, "/"+network, nil)
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	return w, a.Preflight(w, r, network, pathKey)
}

func TestPreflight(t *testing.T) {
	none := newAccess(t, Config{})
	if _, handled := preflight(none, "mainnet", "https://a.example", ""); handled {
		t.Fatal("without CORS settings a preflight is left to the handler")
	}
	cfg := keysConfig()
	cfg.Keys[0].CORSOrigins = []string{"https://alice.example"}
	cfg.Networks = map[string]NetworkPolicy{"sepolia": {CORSOrigins: []string{"*"}}}
	a := newAccess(t, cfg)
	cases := []struct {
		network, origin, key string
		status               int
	}{
		{"sepolia", "https://anyone.example", "", 204},      // the network allows any origin
		{"mainnet", "https://alice.example", "", 204},       // a key's origin passes the preflight
		{"mainnet", "https://alice.example", aliceKey, 204}, // and the path key's
		{"mainnet", "https://mallory.example", "", 403},     // nobody allows it
		{"mainnet", "https://mallory.example", aliceKey, 403},
	}
	for _, c := range cases {
		w, handled := preflight(a, c.network, c.origin, c.key)
		if !handled || w.Code != c.status {
			t.Errorf("%s from %s: handled %v, %d; want %d", c.network, c.origin, handled, w.Code, c.status)
			continue
		}
		if c.status == 204 && w.Header().Get("Access-Control-Allow-Origin") != c.origin {
			t.Errorf("%s from %s: Allow-Origin %q", c.network, c.origin, w.Header().Get("Access-Control-Allow-Origin"))
		}
	}
	// The actual request: only the key's own origins, or the network's.
	alice, _ := a.Identify(request(), "mainnet", aliceKey)
	for _, c := range []struct {
		origin string
		caller *Caller
		want   bool
	}{{"https://alice.example", alice, true}, {"https://alice.example", nil, false}} {
		r := request("Origin", c.origin)
		w := httptest.NewRecorder()
		a.AllowOrigin(w, r, "mainnet", c.caller)
		if got := w.Header().Get("Access-Control-Allow-Origin") != ""; got != c.want {
			t.Errorf("actual request from %s with %v: allowed %v", c.origin, c.caller.Name(), got)
		}
	}
}
