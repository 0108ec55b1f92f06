package gateway_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/evmgate/evmgate/internal/certfile/certtest"
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

	// Even from an allowed origin, a POST that needed no preflight is
	// refused, key in the path or not; the page may read why.
	before := f.Calls("eth_sendRawTransaction")
	r := postAs(t, http.DefaultClient, url+"/mainnet/"+aliceKey, allowed.URL, "text/plain", sendRawTx)
	wantBrowserRefusal(t, "allowed origin, text/plain", r)
	if r.header.Get("Access-Control-Allow-Origin") != allowed.URL || f.Calls("eth_sendRawTransaction") != before {
		t.Errorf("allowed origin, text/plain: %v, node calls %d; want the page allowed to read the refusal, no call",
			r.header, f.Calls("eth_sendRawTransaction")-before)
	}
}

const sendRawTx = `{"jsonrpc":"2.0","id":3,"method":"eth_sendRawTransaction","params":["0x01"]}`

// postAs posts body to url with the given Origin and Content-Type headers,
// each left out when "".
func postAs(t *testing.T, client *http.Client, url, origin, contentType, body string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// wantBrowserRefusal checks the 415 a browser's POST without a JSON content
// type gets.
func wantBrowserRefusal(t *testing.T, what string, r reply) {
	t.Helper()
	e := decodeAnswer(t, r.body)
	if r.status != http.StatusUnsupportedMediaType || e.Error.Code != -32600 || string(e.ID) != "null" ||
		!strings.Contains(e.Error.Message, "browser request must be sent with Content-Type: application/json") ||
		r.header.Get("Content-Type") != "application/json" {
		t.Errorf("%s: got %d %v %s; want 415, -32600, id null, saying to send Content-Type: application/json",
			what, r.status, r.header, r.body)
	}
}

// A POST that a page on any origin can make its visitor's browser send
// without a preflight (an Origin and a content type other than JSON's) is
// refused on the fast server and never reaches a node; a browser's JSON
// call and any call without an Origin (curl -d, scripts) are served.
func TestSimpleBrowserPostRefused(t *testing.T) {
	f := fakes(t, 1)[0]
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f)))
	url := g.RPCURL() + "/mainnet"
	const page = "https://attacker.example"
	sent := func() int64 { return f.Calls("eth_sendRawTransaction") }

	// A browser's multipart form is well formed: fasthttp reads it as a form.
	multipart := "--x\r\nContent-Disposition: form-data; name=\"call\"\r\n\r\n" + sendRawTx + "\r\n--x--\r\n"
	for _, c := range []struct{ name, origin, contentType, body string }{
		{"text/plain", page, "text/plain;charset=UTF-8", sendRawTx},
		{"form", page, "application/x-www-form-urlencoded", sendRawTx},
		{"multipart form", page, "multipart/form-data; boundary=x", multipart},
		{"no content type", page, "", sendRawTx},
		{"unparseable content type", page, "application/json;;", sendRawTx},
		{"origin null (sandboxed page)", "null", "text/plain", sendRawTx},
	} {
		before := sent()
		wantBrowserRefusal(t, c.name, postAs(t, http.DefaultClient, url, c.origin, c.contentType, c.body))
		if got := sent() - before; got != 0 {
			t.Errorf("%s: the node got %d calls, want none", c.name, got)
		}
	}

	for _, c := range []struct{ name, origin, contentType string }{
		{"browser JSON", page, "application/json; charset=utf-8"},
		{"browser JSON-RPC type", page, "application/json-rpc"},
		{"curl -d (no Origin)", "", "application/x-www-form-urlencoded"},
		{"script, text/plain (no Origin)", "", "text/plain"},
		{"script, no content type (no Origin)", "", ""},
	} {
		before := sent()
		r := postAs(t, http.DefaultClient, url, c.origin, c.contentType, sendRawTx)
		if r.status != 200 || sent()-before != 1 {
			t.Errorf("%s: got %d %s, node calls %d; want served by the node", c.name, r.status, r.body, sent()-before)
		}
	}
}

// The same refusal where a browser's POST reaches net/http's server: an
// HTTP/2 client on a TLS port, and the REST routes' POSTs.
func TestSimpleBrowserPostRefusedOverHTTP2AndREST(t *testing.T) {
	f := fakes(t, 1)[0]
	dir := t.TempDir()
	ca := certtest.NewCA(t, "gateway test ca")
	cert, key := ca.Server(t, "rpc").Write(t, dir, "rpc")
	g := startGateway(t, fmt.Sprintf("tls: {cert_file: %q, key_file: %q}\n", cert, key)+
		netYAML("    rest_api: true\n", nodesYAML("local_nodes", f)))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	const page = "https://attacker.example"

	before := f.Calls("eth_sendRawTransaction")
	r := postAs(t, client, g.RPCURL()+"/mainnet", page, "text/plain", sendRawTx)
	wantBrowserRefusal(t, "HTTP/2, text/plain", r)
	if got := f.Calls("eth_sendRawTransaction") - before; got != 0 {
		t.Errorf("HTTP/2: the node got %d calls, want none", got)
	}
	req, _ := http.NewRequest(http.MethodPost, g.RPCURL()+"/mainnet", strings.NewReader(sendRawTx))
	req.Header.Set("Origin", page)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || f.Calls("eth_sendRawTransaction")-before != 1 {
		t.Fatalf("HTTP/2 browser JSON: %s %d, node calls %d; want HTTP/2, served",
			resp.Proto, resp.StatusCode, f.Calls("eth_sendRawTransaction")-before)
	}

	const method = "eth_getTransactionByBlockNumberAndIndex"
	rest := g.RPCURL() + "/mainnet/txbyblockandindex"
	body := `{"block": "0x10", "index": "0x0"}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		before := f.Calls(method)
		wantBrowserRefusal(t, "REST POST, "+ct, postAs(t, client, rest, page, ct, body))
		if got := f.Calls(method) - before; got != 0 {
			t.Errorf("REST POST, %s: the node got %d calls, want none", ct, got)
		}
	}
	before = f.Calls(method)
	if r := postAs(t, client, rest, "", "text/plain", body); r.status == http.StatusUnsupportedMediaType || f.Calls(method)-before != 1 {
		t.Errorf("REST POST without Origin: %d %s, node calls %d; want served", r.status, r.body, f.Calls(method)-before)
	}
}

// A page on another origin has the browser send no-cors POSTs (text/plain
// and a form, which need no preflight) to the gateway: the browser sends
// them, the gateway answers, and no call reaches the node.
func TestBrowserNoCorsPostNeverReachesTheNode(t *testing.T) {
	ctx := browser(t)
	f := fakes(t, 1)[0]
	g := startGateway(t, netYAML("", nodesYAML("local_nodes", f)))
	target := g.RPCURL() + "/mainnet"
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><html><body><script>
window.sent = 0;
const call = %q;
for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
  fetch(%q, {method: "POST", mode: "no-cors", headers: {"Content-Type": type}, body: call})
    .then(() => { window.sent++; }, e => { window.sent = "failed: " + e; });
}
</script></body></html>`, sendRawTx, target)
	}))
	t.Cleanup(page.Close)

	do(t, ctx, chromedp.Navigate(page.URL))
	// An opaque answer arrives once the gateway has answered the request.
	waitJS(t, ctx, "the page's two no-cors calls answered", `window.sent === 2 || typeof window.sent === "string"`)
	if got := eval[any](t, ctx, `window.sent`); got != float64(2) {
		t.Fatalf("the page's calls: %v", got)
	}
	if got := f.Calls("eth_sendRawTransaction"); got != 0 {
		t.Fatalf("the node got %d eth_sendRawTransaction calls from another origin's page, want none", got)
	}
}
