package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// FuzzAdminBodies: whatever body a client POSTs or DELETEs to the admin
// API, the answer is a documented status with a JSON body (an "error"
// member for every failure), never a panic or a 5xx, and a body the API
// refuses changes nothing.
func FuzzAdminBodies(f *testing.F) {
	for _, s := range []string{
		`{"uri":"http://10.0.0.9:8545"}`,
		`{"uri":"http://10.0.0.9:8545","tier":"fallback_nodes","name":"n9"}`,
		`{"uri":"ws://x"}`, `{"uri":""}`, `{"uri":1}`, `{"url":"http://a:1"}`,
		`{"uri":"http://a:1"}{}`, `[]`, `null`, `{"uri":"http://[::1]:8545","tier":"local_nodes"}`,
		`{"uri":"http://user:pass@10.0.0.1:8545/key"}`, "", `{"uri":"\u0000"}`,
	} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(3))
	}
	cfg := Config{AdminListen: "127.0.0.1:0"}
	cfg.Default()
	fa := newFake("mainnet", "sepolia")
	r, err := New(cfg, testSeed(), fa, quietLog(), prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = r.Close() })
	h := r.Handler()
	routes := []struct{ method, path string }{
		{http.MethodPost, "/admin/networks/mainnet/nodes"}, {http.MethodDelete, "/admin/networks/mainnet/nodes"},
		{http.MethodPost, "/nodes"}, {http.MethodDelete, "/nodes"},
	}
	allowed := []int{http.StatusOK, http.StatusCreated, http.StatusBadRequest, http.StatusNotFound,
		http.StatusConflict, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge}
	f.Fuzz(func(t *testing.T, body string, route uint8) {
		rt := routes[int(route)%len(routes)]
		before := fa.uris("mainnet")
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewBufferString(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !slices.Contains(allowed, rec.Code) {
			t.Fatalf("%s %s %q: status %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("%s %s %q: answer %q is not a JSON object: %v", rt.method, rt.path, body, rec.Body, err)
		}
		if rec.Code >= 400 {
			if _, ok := answer["error"].(string); !ok {
				t.Fatalf("%s %s %q: %d without an error message: %s", rt.method, rt.path, body, rec.Code, rec.Body)
			}
			if after := fa.uris("mainnet"); !slices.Equal(before, after) {
				t.Fatalf("%s %s %q: refused with %d but the node set changed from %v to %v", rt.method, rt.path, body, rec.Code, before, after)
			}
		}
	})
}
