package registry

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects log output written from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines is the logged lines whose message is msg.
func (b *logBuffer) lines(msg string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for line := range strings.Lines(b.buf.String()) {
		if strings.Contains(line, msg) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}

// TestRemoveUnknownNodeNamesItsPath: removing a node that is not there, on a
// host that has another node, names the URL asked for, path included, so
// the answer cannot be read as being about the node that is there.
func TestRemoveUnknownNodeNamesItsPath(t *testing.T) {
	const served, gone = "http://127.0.0.1:41371/p", "http://127.0.0.1:41371/x"
	f := newFake("mainnet")
	r := newTestRegistryWith(t, Config{}, f, map[string][]Node{"mainnet": {{URI: served}}})
	h := r.Handler()
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": gone}, http.StatusCreated)
	out := mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": gone}, http.StatusConflict)
	if got, want := errorOf(t, out), `network "mainnet" already has node `+gone; !strings.HasSuffix(got, want) {
		t.Fatalf("second POST: %q, want it to end with %q", got, want)
	}
	mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": gone}, http.StatusOK)
	out = mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": gone}, http.StatusNotFound)
	if got, want := errorOf(t, out), `network "mainnet" has no node `+gone; !strings.HasSuffix(got, want) {
		t.Fatalf("second DELETE: %q, want it to end with %q", got, want)
	}
	f.waitSet(t, "mainnet", served)
}

// TestLogNamesNodesOnOneHostApart: two provider endpoints on one host whose
// paths carry different API keys log different names, as /status names
// them, and no key, password or query value shows.
func TestLogNamesNodesOnOneHostApart(t *testing.T) {
	const (
		key1 = "k1AAaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		key2 = "k2BBbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		uri1 = "https://eth.provider.example/v2/" + key1
		uri2 = "https://user:hunter2@eth.provider.example/v2/" + key2 + "?apikey=zzzsecret"
	)
	want := map[string]string{ // URI: its name in logs and errors
		uri1: "https://eth.provider.example/v2/k1AA…",
		uri2: "https://eth.provider.example/v2/k2BB…",
	}
	var logs logBuffer
	f := newFake("mainnet")
	r := newTestRegistryLog(t, Config{}, f, map[string][]Node{"mainnet": {{URI: "http://10.0.0.1:8545"}}},
		slog.New(slog.NewJSONHandler(&logs, nil)))
	h := r.Handler()
	for _, uri := range []string{uri1, uri2} {
		mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": uri}, http.StatusCreated)
		out := mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": uri}, http.StatusConflict)
		if got := errorOf(t, out); !strings.HasSuffix(got, " "+want[uri]) {
			t.Errorf("duplicate POST of %s: %q does not end with %q", want[uri], got, want[uri])
		}
	}
	for _, uri := range []string{uri1, uri2} {
		mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": uri}, http.StatusOK)
	}
	f.waitSet(t, "mainnet", "http://10.0.0.1:8545")

	for _, msg := range []string{"node added", "node removed"} {
		lines := logs.lines(msg)
		if len(lines) != 2 {
			t.Fatalf("%d %q lines, want 2: %q", len(lines), msg, lines)
		}
		for i, uri := range []string{uri1, uri2} {
			var rec struct{ Node string }
			if err := json.Unmarshal([]byte(lines[i]), &rec); err != nil {
				t.Fatalf("log line %q: %v", lines[i], err)
			}
			if rec.Node != want[uri] {
				t.Errorf("%q logs node=%q, want %q", msg, rec.Node, want[uri])
			}
		}
	}
	all := strings.Join(logs.lines(""), "\n")
	for _, secret := range []string{key1, key2, "hunter2", "zzzsecret", "apikey", "user"} {
		if strings.Contains(all, secret) {
			t.Errorf("the log shows %q:\n%s", secret, all)
		}
	}
}
