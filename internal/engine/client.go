package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// maxResponse bounds a node's answer (geth's auth endpoint allows 250 MB; a
// getPayload envelope with blobs is a few MB).
const maxResponse = 256 << 20

// errGarbage marks a node answer that is not a JSON-RPC response.
var errGarbage = errors.New("answer is not a json-rpc response")

// errNoAnswerInTime marks a call that ended because the node's own timeout
// passed, as opposed to one refused, cut or answered badly.
var errNoAnswerInTime = errors.New("no answer within the node's timeout")

// newTransport returns the transport used for every node: no proxy from the
// environment (nodes are usually on loopback), enough idle connections for
// concurrent fan-out, and bounded header waits.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // bounded by the per-call context instead
		ForceAttemptHTTP2:     false,
	}
}

// post sends one JSON-RPC body to n with a fresh token signed by n's own
// secret, within timeout. A JSON-RPC error answer is not an error here; a
// transport failure, a timeout, an HTTP status other than 200 or a body that
// is not a JSON-RPC response is.
func (m *Mux) post(ctx context.Context, n *node, body []byte, timeout time.Duration) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return response{}, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+n.secret.Mint(m.now()))
	res, err := m.client.Do(req)
	if err != nil {
		// Never the URL, which may carry an API key: logs name the node.
		return response{}, fmt.Errorf("calling node: %w", timedOut(ctx, nodeurl.Cause(err)))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return response{}, fmt.Errorf("reading answer: %w", timedOut(ctx, err))
	}
	if res.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(raw[:min(len(raw), 200)]))
		if res.StatusCode == http.StatusUnauthorized {
			return response{}, fmt.Errorf("node rejected our token (check its jwt secret): %s", msg)
		}
		return response{}, fmt.Errorf("node answered http %d: %s", res.StatusCode, msg)
	}
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return response{}, fmt.Errorf("%w: %w", errGarbage, err)
	}
	if r.Result == nil && r.Error == nil {
		return response{}, fmt.Errorf("%w: neither result nor error", errGarbage)
	}
	return r, nil
}

// timedOut marks err with errNoAnswerInTime when the call's own deadline
// has passed, and not its caller's cancellation.
func timedOut(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", errNoAnswerInTime, err)
	}
	return err
}

// asReply turns a node's answer into the reply for the consensus client,
// keeping its result or error bytes as they are.
func (r response) asReply() reply {
	if r.Error != nil && !bytes.Equal(r.Error, []byte("null")) {
		return reply{errRaw: r.Error}
	}
	return reply{result: r.Result}
}

// failed reports whether r carries a JSON-RPC error.
func (r response) failed() bool {
	return r.Error != nil && !bytes.Equal(r.Error, []byte("null"))
}
