package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
)

// dappPage serves a page whose script calls the gateway at *gateway from
// the page's own origin (another port: another origin) with a header key,
// which makes the browser send a preflight first.
func dappPage(t *testing.T, gateway *atomic.Pointer[string], key string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><html><body><script>
window.result = null;
fetch(%q, {method: "POST", headers: {"Content-Type": "application/json", "X-API-Key": %q},
  body: JSON.stringify({jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: []})})
  .then(r => r.json().then(j => { window.result = r.status + " " + (j.result || j.error.message); }))
  .catch(e => { window.result = "blocked: " + e; });
</script></body></html>`, *gateway.Load()+"/mainnet", key)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBrowserCallsThroughCORS(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 1)[0]
	var gw atomic.Pointer[string]
	allowed, other := dappPage(t, &gw, aliceKey), dappPage(t, &gw, aliceKey)
	g := startGateway(t, accessYAML(f, filepath.Join(t.TempDir(), "s"), `  keys:
    - name: dapp
      key: `+aliceKey+`
      cors_origins: ["`+allowed.URL+`"]
`))
	url := g.RPCURL()
	gw.Store(&url)

	do(t, ctx, chromedp.Navigate(allowed.URL))
	waitJS(t, ctx, "the allowed page's call", `window.result !== null`)
	if got := eval[string](t, ctx, `window.result`); got != "200 0x64" {
		t.Fatalf("the allowed origin's call: %q", got)
	}
	do(t, ctx, chromedp.Navigate(other.URL))
	waitJS(t, ctx, "the other page's call", `window.result !== null`)
	if got := eval[string](t, ctx, `window.result`); !strings.HasPrefix(got, "blocked: ") {
		t.Fatalf("another origin's call: %q, want blocked by the browser", got)
	}

	// The preflight is answered by the gateway itself.
	req, _ := http.NewRequest(http.MethodOptions, url+"/mainnet", nil)
	req.Header.Set("Origin", allowed.URL)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type, x-api-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != allowed.URL ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
