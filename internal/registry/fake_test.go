package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeApplier records the node sets applied to it and signals each Apply.
type fakeApplier struct {
	networks []string
	changed  chan struct{} // one token per Apply, dropped when full

	mu       sync.Mutex // mu protects the fields below
	sets     map[string][]Node
	history  map[string][][]string // URIs of every set applied, by network
	applies  int
	admits   int
	admit    func(Node) error
	applyErr error
}

func newFake(networks ...string) *fakeApplier {
	return &fakeApplier{networks: networks, sets: map[string][]Node{}, history: map[string][][]string{}, changed: make(chan struct{}, 1)}
}

func (f *fakeApplier) Networks() []string { return f.networks }

func (f *fakeApplier) Apply(network string, nodes []Node) error {
	f.mu.Lock()
	f.sets[network] = slices.Clone(nodes)
	var uris []string
	for _, n := range nodes {
		uris = append(uris, n.URI)
	}
	f.history[network] = append(f.history[network], uris)
	f.applies++
	err := f.applyErr
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
	return err
}

func (f *fakeApplier) Admit(_ context.Context, n Node) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admits++
	if f.admit != nil {
		return f.admit(n)
	}
	return nil
}

func (f *fakeApplier) setAdmit(fn func(Node) error) {
	f.mu.Lock()
	f.admit = fn
	f.mu.Unlock()
}

func (f *fakeApplier) set(network string) []Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sets[network])
}

// applied is every set applied to network, as URIs, in order.
func (f *fakeApplier) applied(network string) [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.history[network])
}

func (f *fakeApplier) counts() (applies, admits int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies, f.admits
}

// uris is the URIs of the set last applied to network.
func (f *fakeApplier) uris(network string) []string {
	var out []string
	for _, n := range f.set(network) {
		out = append(out, n.URI)
	}
	return out
}

// waitSet waits, on Apply signals, until network's applied URIs are want.
func (f *fakeApplier) waitSet(t *testing.T, network string, want ...string) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for !slices.Equal(f.uris(network), want) {
		select {
		case <-f.changed:
		case <-deadline.C:
			t.Fatalf("network %s: applied %v, want %v", network, f.uris(network), want)
		}
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testSeed is two networks: mainnet with two configured nodes, sepolia with one.
func testSeed() map[string][]Node {
	return map[string][]Node{
		"mainnet": {{URI: "http://10.0.0.1:8545", Name: "a"}, {URI: "http://10.0.0.2:8545", Tier: TierFallback}},
		"sepolia": {{URI: "http://10.0.1.1:8545"}},
	}
}

// newTestRegistry builds and starts a registry over testSeed.
func newTestRegistry(t *testing.T, cfg Config, f *fakeApplier) *Registry {
	t.Helper()
	return newTestRegistryWith(t, cfg, f, testSeed())
}

// newTestRegistryWith builds and starts a registry over seed.
func newTestRegistryWith(t *testing.T, cfg Config, f *fakeApplier, seed map[string][]Node) *Registry {
	t.Helper()
	return newTestRegistryLog(t, cfg, f, seed, quietLog())
}

// newTestRegistryLog builds and starts a registry over seed that logs to log.
func newTestRegistryLog(t *testing.T, cfg Config, f *fakeApplier, seed map[string][]Node, log *slog.Logger) *Registry {
	t.Helper()
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, seed, f, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// call sends one admin request and returns the status and decoded body.
func call(t *testing.T, h http.Handler, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// mustCall is call that fails the test unless the status is want.
func mustCall(t *testing.T, h http.Handler, method, path string, body any, want int) []byte {
	t.Helper()
	code, out := call(t, h, method, path, "", body)
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, out)
	}
	return out
}

func decode[T any](t *testing.T, data []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
	return v
}

func errorOf(t *testing.T, data []byte) string {
	t.Helper()
	return fmt.Sprint(decode[map[string]string](t, data)["error"])
}
