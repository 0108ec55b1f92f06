package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/nodeurl"
)

func newClient(spec Spec) *http.Client {
	if spec.Transport != nil {
		return &http.Client{Transport: spec.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if spec.Attest != nil {
		return &http.Client{Transport: AttestedTransport(spec, true), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	dialTimeout := dialTimeoutOf(spec)
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   idleConns(spec), // sized to the node's concurrency: no connection churn
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   dialTimeout,
		ExpectContinueTimeout: 0,
		DisableCompression:    !spec.Gzip,
		ForceAttemptHTTP2:     strings.HasPrefix(spec.URL, "https:"),
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// idleConns is how many idle connections net/http keeps to the node: one
// per call it takes at once, and the probes' (net/http bounds no
// connections in use: a probe never waits for one behind calls).
func idleConns(spec Spec) int {
	if spec.MaxConcurrency <= 0 {
		return 256
	}
	return spec.MaxConcurrency + probeConns
}

func dialTimeoutOf(spec Spec) time.Duration {
	if spec.Timeout <= 0 || spec.Timeout > 5*time.Second {
		return 5 * time.Second
	}
	return spec.Timeout
}

// Close drops the node's idle connections.
func (n *Node) Close() {
	n.client.CloseIdleConnections()
	if n.fast != nil {
		n.fast.pool.close()
	}
}

// Interrupt ends the calls waiting on the node, for the end of a
// shutdown's grace: the calls' contexts end first (their cause says why),
// and the pooled HTTP/1.1 client, which does not watch a short try's
// context, has their connections cut here; a call that takes a connection
// from now on fails at once. net/http's clients stop with the contexts.
// Probes go on.
func (n *Node) Interrupt() {
	if n.fast != nil {
		n.fast.pool.interrupt()
	}
}

// Do posts body to the node and returns its answer with status 200, whose
// body arrives as the caller reads it; the caller closes it. ctx's deadline
// is the try's deadline. Failures come back as *Error, whose text never
// holds the node's URL.
//
// Plain http:// nodes are served by a pooled HTTP/1.1 client that sees a
// cancelled ctx before sending and after the answer's head, not while
// waiting, unless ctx is Interruptible: a try whose client went away ends
// at its deadline (or at the node's Timeout when ctx has none). https://,
// gzip and proxied nodes use net/http, which stops at once.
//
// Every call and probe to the node passes here, so here its answer time is
// measured: from sending to the answer's head, or to the failure (a
// SlowMethod try's failures alone).
func (n *Node) Do(ctx context.Context, body []byte) (*Response, error) {
	start := Now()
	var resp *Response
	var err error
	switch {
	case n.overWS(ctx):
		resp, err = n.doStd(ctx, n.ws, body)
	case n.fast != nil:
		resp, err = n.fast.do(ctx, n.Name, body)
	default:
		resp, err = n.doStd(ctx, n.client, body)
	}
	end := Now()
	if marks, _ := marksOf(ctx); marks&markUnmeasured == 0 {
		n.observeAnswer(end, time.Duration(end-start), err)
	} else if err != nil {
		n.observeAnswer(end, 0, err) // counted as FailurePenalty (SlowMethod)
	}
	if err != nil {
		n.coolOnTooMany(err)
	}
	return resp, err
}

func (n *Node) doStd(ctx context.Context, client *http.Client, body []byte) (*Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: KindRequest, Node: n.Name, Err: err}
	}
	req.Header = n.requestHeader(req.Header)
	if th := traceOf(ctx); th != nil {
		req.Header["Traceparent"] = []string{th.parent}
		if th.state != "" {
			req.Header["Tracestate"] = []string{th.state}
		}
	}
	if host := n.Headers.Get("Host"); host != "" {
		req.Host = host // a provider behind a rewrite that routes on Host
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, classify(ctx, n.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, statusError(n.Name, resp.StatusCode, snippet, resp.Header.Get("Retry-After"))
	}
	return newStdResponse(resp), nil
}

// MaxAnswer is the most of one answer the gateway holds in memory: a batch's
// answer, an error answer, the members before a result. An answer over it
// was asked for by its client; it is refused with KindTooLarge and never
// held against the node. A result is streamed, whatever its size.
const MaxAnswer = 64 << 20

// Call posts body and reads the whole answer, up to MaxAnswer bytes.
func (n *Node) Call(ctx context.Context, body []byte) ([]byte, error) {
	return n.CallLimit(ctx, body, MaxAnswer)
}

// CallLimit posts body and reads the whole answer, up to limit bytes.
func (n *Node) CallLimit(ctx context.Context, body []byte, limit int64) ([]byte, error) {
	resp, err := n.Do(ctx, body)
	if err != nil {
		return nil, err
	}
	defer resp.Close()
	out, err := resp.readAll(limit)
	if err != nil {
		return nil, classify(ctx, n.Name, err)
	}
	return out, nil
}

var jsonHeader = []string{"application/json"}

func (n *Node) requestHeader(h http.Header) http.Header {
	h["Content-Type"] = jsonHeader
	h["Accept"] = jsonHeader
	for k, v := range n.Headers {
		if strings.EqualFold(k, "Host") {
			continue
		}
		h[k] = v
	}
	return h
}

// Kind says why a try on a node failed.
type Kind uint8

const (
	KindRequest         Kind = iota // the request could not be built or sent as it is
	KindDial                        // connection refused, DNS, TLS
	KindTimeout                     // the try's deadline passed
	KindStatus                      // HTTP status other than 200
	KindRateLimited                 // HTTP 429
	KindTransport                   // connection broken mid-exchange
	KindCanceled                    // the client went away: not the node's fault
	KindUnavailable                 // JSON-RPC error meaning "not on this node now"
	KindMalformed                   // the answer is not a JSON-RPC response
	KindAttestation                 // the node's TLS certificate failed attestation
	KindTooLarge                    // the answer is over MaxAnswer: the client asked for too much
	KindDeadline                    // the call's own deadline (request_timeout) ended the try before rpc_timeout
	KindRequestTooLarge             // HTTP 413: the request is over the node's limit: the client sent too much
	KindMethodMissing               // the node does not serve the call's method ("method not found")
)

var kindNames = [...]string{"request", "dial", "timeout", "http_status", "rate_limited", "transport", "canceled", "unavailable", "malformed", "attestation", "too_large", "deadline", "request_too_large", "method_missing"}

func (k Kind) String() string { return kindNames[k] }

// Kinds lists every kind, for metrics.
var Kinds = []Kind{KindRequest, KindDial, KindTimeout, KindStatus, KindRateLimited, KindTransport, KindCanceled, KindUnavailable, KindMalformed, KindAttestation, KindTooLarge, KindDeadline, KindRequestTooLarge, KindMethodMissing}

// Error is a failed try on a node.
type Error struct {
	Kind   Kind
	Node   string
	Status int
	Err    error
	// RetryAfter is a rate limit answer's Retry-After (0: none).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Node + ": " + e.Kind.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// NodeFault reports whether the failure says something about the node's
// health: a broken connection, a timeout, HTTP 5xx, an answer that is not
// JSON-RPC. What depends on the request or on the gateway's own limits
// does not: a client that went away, an answer over MaxAnswer, a call
// whose own deadline ran out first, a request over the node's limit (HTTP
// 413), a method the node does not serve, another HTTP 4xx (a node that
// refuses every call with a 4xx fails its probes instead). Nor does HTTP
// 429: a node that says calls come too fast is passed over while it cools
// down (CoolDown), not marked down.
func (e *Error) NodeFault() bool {
	switch e.Kind {
	case KindCanceled, KindRequest, KindTooLarge, KindDeadline, KindRequestTooLarge, KindMethodMissing, KindRateLimited:
		return false
	case KindStatus:
		return e.Status >= 500 || e.Status < 400
	}
	return true
}

// ErrAnswerTooLarge is the cause of KindTooLarge: the node's answer is over
// the gateway's limit.
var ErrAnswerTooLarge = errors.New("the answer is over the gateway's limit")

// ReadError classifies an error met while reading a node's answer: the
// client going away, the try's deadline, or a broken connection.
func ReadError(ctx context.Context, node string, err error) error { return classify(ctx, node, err) }

func classify(ctx context.Context, node string, err error) error {
	err = nodeurl.Cause(err) // never the URL, which may carry an API key
	var opErr *net.OpError
	var own *Error
	var ae *attest.Error
	switch {
	case errors.As(err, &own):
		return own // a transport (the node's WebSocket) that classified its failure
	case errors.As(err, &ae):
		return &Error{Kind: KindAttestation, Node: node, Err: ae}
	case errors.Is(err, ErrAnswerTooLarge):
		return &Error{Kind: KindTooLarge, Node: node, Err: err}
	case ctx.Err() == context.Canceled && !errors.Is(context.Cause(ctx), ErrTryTimeout):
		return &Error{Kind: KindCanceled, Node: node, Err: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(context.Cause(ctx), ErrTryTimeout):
		return &Error{Kind: KindTimeout, Node: node, Err: err}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &Error{Kind: KindDial, Node: node, Err: err}
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return &Error{Kind: KindTimeout, Node: node, Err: err}
		}
		return &Error{Kind: KindTransport, Node: node, Err: err}
	}
}

// ErrTryTimeout is the cause set on a try's context when its per-try
// timeout fires.
var ErrTryTimeout = errors.New("per-try timeout")
