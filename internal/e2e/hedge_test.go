package e2e

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/metrics"
)

// TestHedgedAnswersAreTheNodes: with hedging on, one real node behind a
// proxy that makes it slow, and a delay so short that every read started
// there gets a copy on the other node, every answer is still byte for byte
// what a real node gives, whichever try wins and however the loser is cut.
func TestHedgedAnswersAreTheNodes(t *testing.T) {
	f := buildFixture(t)
	urls := nodeURLs(f.net)
	urls[0] = slowProxy(t, urls[0], 20*time.Millisecond)
	yaml := strings.Replace(gatewayYAML(urls, gwOptions{}), "    local_nodes:\n",
		"    cache: false\n    hedge: {enabled: true, min_delay: 1ms, max_delay: 1ms}\n    local_nodes:\n", 1)
	g := startGatewayLogged(t, yaml, slog.New(slog.DiscardHandler))
	waitInSync(t, g, f.net.Head(), "node0", "node1")
	gwURL := g.RPCURL() + "/" + networkName
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	calls := f.calls()
	direct := f.net.Nodes()[1].HTTPURL()
	for round := range 5 {
		for i := range calls {
			body := requestBody(t, calls[i:i+1], false)
			gs, gb := postRaw(t, hc, gwURL, body)
			ns, nb := postRaw(t, hc, direct, body)
			if gs != http.StatusOK || ns != http.StatusOK || !bytes.Equal(gb, nb) {
				t.Fatalf("round %d, %.120s:\ngateway %d %.300s\nnode    %d %.300s", round, body, gs, gb, ns, nb)
			}
		}
	}
	sent := 0.0
	for _, o := range []string{"won", "lost", "failed"} {
		v, err := metrics.Sum(g.Registry(), "evmgate_hedges_total", map[string]string{"outcome": o})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("hedges %s: %v", o, v)
		sent += v
	}
	if sent == 0 {
		t.Fatal("no read got a copy: the test shows nothing")
	}
}

// slowProxy serves target's JSON-RPC on 127.0.0.1 after holding each
// request for delay (or until the caller gives up).
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
			rp.ServeHTTP(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
