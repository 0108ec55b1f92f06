package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// TestRefusedLargeBodyIsTheNodesAnswer: a node that answers 413 to a body
// over its limit without reading it (geth over 5 MiB) and closes the
// connection gives a request_too_large error (HTTP 413), which is no fault
// of the node's, even though the rest of the body could not be written.
func TestRefusedLargeBodyIsTheNodesAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 1<<20 {
			http.Error(w, "content length too large", http.StatusRequestEntityTooLarge)
			return
		}
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}))
	defer srv.Close()
	big := []byte(`{"jsonrpc":"2.0","id":1,"method":"web3_sha3","params":["0x` + strings.Repeat("ab", 8<<20) + `"]}`)
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: srv.URL, Timeout: 10 * time.Second})
			_, err := n.Call(context.Background(), big)
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.Kind != upstream.KindRequestTooLarge || ue.Status != http.StatusRequestEntityTooLarge || ue.NodeFault() {
				t.Fatalf("got %v, want a request_too_large (HTTP 413) that is not the node's fault", err)
			}
			// The connection it came on is not reused.
			if out, err := n.Call(context.Background(), []byte(`{"id":1}`)); err != nil || !bytes.Contains(out, []byte(`"result"`)) {
				t.Fatalf("next call: %s %v", out, err)
			}
		})
	}
}

func TestAnswerOverLimitIsTooLarge(t *testing.T) {
	answer := []byte(`{"jsonrpc":"2.0","id":1,"result":"` + strings.Repeat("x", 2000) + `"}`)
	for _, chunked := range []bool{false, true} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if chunked {
				w.Write(answer[:100])
				w.(http.Flusher).Flush()
				w.Write(answer[100:])
				return
			}
			w.Header().Set("Content-Length", "2036")
			w.Write(answer)
		}))
		for _, cl := range clients {
			n := newNode(t, cl.gzip, cl.fast, upstream.Spec{Name: "n", URL: srv.URL, Timeout: 10 * time.Second})
			_, err := n.CallLimit(context.Background(), []byte(`{}`), 1024)
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.Kind != upstream.KindTooLarge || !errors.Is(err, upstream.ErrAnswerTooLarge) || ue.NodeFault() {
				t.Errorf("%s, chunked %v: got %v, want a too_large error that is not the node's fault", cl.name, chunked, err)
			}
			if out, err := n.CallLimit(context.Background(), []byte(`{}`), 4096); err != nil || !bytes.Equal(out, answer) {
				t.Errorf("%s, chunked %v: under the limit: %.50s %v", cl.name, chunked, out, err)
			}
		}
		srv.Close()
	}
}

func TestNodeFault(t *testing.T) {
	for _, c := range []struct {
		err  upstream.Error
		want bool
	}{
		{upstream.Error{Kind: upstream.KindDial}, true},
		{upstream.Error{Kind: upstream.KindTimeout}, true},
		{upstream.Error{Kind: upstream.KindTransport}, true},
		{upstream.Error{Kind: upstream.KindMalformed}, true},
		{upstream.Error{Kind: upstream.KindRateLimited, Status: 429}, false}, // it cools down instead (CoolDown)
		{upstream.Error{Kind: upstream.KindStatus, Status: 502}, true},
		{upstream.Error{Kind: upstream.KindStatus, Status: 301}, true},
		{upstream.Error{Kind: upstream.KindRequestTooLarge, Status: 413}, false},
		{upstream.Error{Kind: upstream.KindStatus, Status: 400}, false},
		{upstream.Error{Kind: upstream.KindCanceled}, false},
		{upstream.Error{Kind: upstream.KindRequest}, false},
		{upstream.Error{Kind: upstream.KindTooLarge}, false},
	} {
		if got := c.err.NodeFault(); got != c.want {
			t.Errorf("%s (HTTP %d): NodeFault %v, want %v", c.err.Kind, c.err.Status, got, c.want)
		}
	}
}
