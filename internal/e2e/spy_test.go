package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// zeroAddress is the account the gateway's state probe reads.
const zeroAddress = `"0x0000000000000000000000000000000000000000"`

// spy is a JSON-RPC proxy on 127.0.0.1 in front of a real node. It counts
// the calls it passes on and, when prune is set, plays a full node that
// keeps state for only prune blocks: a single call reading state older
// than head-prune is answered with go-ethereum's "missing trie node".
type spy struct {
	target string
	prune  uint64
	srv    *httptest.Server

	mu       sync.Mutex // mu protects the counts
	calls    map[string]int
	oldState int // state calls older than the window, the probe's aside
	probes   int // state probes (the zero address)
}

func startSpy(t testing.TB, target string, prune uint64) *spy {
	t.Helper()
	s := &spy{target: target, prune: prune, calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *spy) URL() string { return s.srv.URL }

// count returns how many calls of method the node received.
func (s *spy) count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// old returns the state calls older than the window it received (not
// counting the gateway's probes) and the probes.
func (s *spy) old() (calls, probes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oldState, s.probes
}

func (s *spy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	calls, batch, perr := jsonrpc.Parse(body)
	if perr != nil {
		http.Error(w, perr.Message, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for i := range calls {
		s.calls[calls[i].Method]++
	}
	s.mu.Unlock()
	if !batch && s.prune > 0 {
		if b, ok := calls[0].StateBlock(); ok && s.pruned(b) {
			s.mu.Lock()
			if bytes.Equal(calls[0].FirstParam(), []byte(zeroAddress)) {
				s.probes++
			} else {
				s.oldState++
			}
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			out := `{"jsonrpc":"2.0","id":` + string(calls[0].ID) +
				`,"error":{"code":-32000,"message":"missing trie node 5b2c1e9d0a8f7c6b5a4e3d2c1b0a9f8e7d6c5b4a3e2d1c0b9a8f7e6d5c4b3a2e (path )"}}`
			_, _ = w.Write([]byte(out))
			return
		}
	}
	s.forward(w, body)
}

// pruned reports whether block is older than the window below the node's
// head.
func (s *spy) pruned(block uint64) bool {
	resp, err := http.Post(s.target, "application/json",
		bytes.NewReader([]byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)))
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var scan jsonrpc.ResponseScan
	if scan.Scan(b, true) != jsonrpc.Result {
		return false
	}
	head, ok := jsonrpc.ParseQuantity(scan.ResultValue(b))
	return ok && block+s.prune < head
}

func (s *spy) forward(w http.ResponseWriter, body []byte) {
	resp, err := http.Post(s.target, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(b)
}
