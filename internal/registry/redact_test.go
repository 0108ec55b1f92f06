package registry

import (
	"bytes"
	"encoding/json"
	"errors"
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

// TestChangeLogsErrOnlyWhenSet: a change that was applied logs no err; one
// stored but not applied logs why.
func TestChangeLogsErrOnlyWhenSet(t *testing.T) {
	var logs logBuffer
	f := newFake("mainnet", "sepolia")
	r := newTestRegistryLog(t, Config{}, f, testSeed(), slog.New(slog.NewTextHandler(&logs, nil)))
	h := r.Handler()
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.9:8545"}, http.StatusCreated)
	mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.9:8545"}, http.StatusOK)
	for _, msg := range []string{`msg="node added"`, `msg="node removed"`} {
		lines := logs.lines(msg)
		if len(lines) != 1 {
			t.Fatalf("%d %s lines, want 1: %q", len(lines), msg, lines)
		}
		if strings.Contains(lines[0], "err=") {
			t.Errorf("an applied change logs an err: %s", lines[0])
		}
	}

	f.mu.Lock()
	f.applyErr = errors.New("bad _workers")
	f.mu.Unlock()
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.8:8545"}, http.StatusInternalServerError)
	lines := logs.lines(`msg="node added"`)
	if len(lines) != 2 || !strings.Contains(lines[1], `err="change stored but not applied: bad _workers"`) {
		t.Fatalf("a change not applied does not log why: %q", lines)
	}
	if all := strings.Join(logs.lines(""), "\n"); strings.Contains(all, "err=<nil>") {
		t.Errorf("the log shows err=<nil>:\n%s", all)
	}
}
