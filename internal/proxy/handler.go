package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/metrics"
	"github.com/evmgate/evmgate/internal/tracing"
	"github.com/evmgate/evmgate/internal/upstream"
	"go.opentelemetry.io/otel/propagation"
)

// Options are the handler's limits.
type Options struct {
	MaxBodyBytes   int64
	MaxBatchSize   int
	RequestTimeout time.Duration
	LogRequests    bool
	// MaxAnswerBytes bounds what is held of one node answer: a batch's
	// answer, an error answer, the members before a result (0:
	// upstream.MaxAnswer). A result is streamed whatever its size.
	MaxAnswerBytes int64
	// Compress gzips answers of at least CompressMinBytes for clients
	// whose Accept-Encoding allows it (response_compression).
	Compress         bool
	CompressMinBytes int
}

// Handler serves JSON-RPC over HTTP for every network.
type Handler struct {
	opts atomic.Pointer[Options]
	// broadcasting counts the transaction copies in flight (broadcast.go).
	broadcasting atomic.Int64
	log          *slog.Logger
	metrics      *metrics.Metrics
	ids          *requestIDs
	calls        counterCache // evmgate_calls_total
	tries        counterCache // evmgate_node_requests_total
	networks     atomic.Pointer[map[string]*Network]
	aliases      atomic.Pointer[map[string]*Network] // by Network.Paths
	access       atomic.Pointer[access.Access]       // nil: every client may call anything
	tracer       *tracing.Tracer                     // nil: requests are not traced
	stop         stopState                           // the end of a shutdown's grace (shutdown.go)
	filters      filterNodes                         // the node each filter lives on (filters.go)
	// Upgrade, when set, serves WebSocket upgrades on the RPC paths.
	Upgrade func(w http.ResponseWriter, r *http.Request, n *Network)
}

// New returns a handler over networks.
func New(opts Options, networks []*Network, log *slog.Logger, m *metrics.Metrics) *Handler {
	h := &Handler{log: log, metrics: m, ids: newRequestIDs()}
	h.stop.init()
	h.SetOptions(opts)
	if m != nil {
		h.calls.vec, h.tries.vec = m.Calls, m.NodeTries
	}
	h.SetNetworks(networks)
	return h
}

// SetOptions replaces the handler's limits (a configuration reload); a
// call already being served keeps those it started with.
func (h *Handler) SetOptions(opts Options) {
	if opts.MaxAnswerBytes <= 0 {
		opts.MaxAnswerBytes = upstream.MaxAnswer
	}
	h.opts.Store(&opts)
}

func (h *Handler) options() *Options { return h.opts.Load() }

// BodyLimit is the largest request body served now (max_body_bytes).
func (h *Handler) BodyLimit() int64 { return h.options().MaxBodyBytes }

// SetNetworks replaces the served networks.
func (h *Handler) SetNetworks(networks []*Network) {
	m := make(map[string]*Network, len(networks))
	aliases := map[string]*Network{}
	for _, n := range networks {
		if n.Sched == nil {
			n.Sched = direct{pool: n.Pool}
		}
		n.sizer, _ = n.Sched.(QueueSizer)
		for _, p := range n.Paths {
			aliases[p] = n
		}
		if h.metrics != nil {
			n.requests = h.metrics.Requests.WithLabelValues(n.Name)
			n.duration = h.metrics.RequestDuration.WithLabelValues(n.Name)
		}
		m[n.Name] = n
	}
	h.networks.Store(&m)
	h.aliases.Store(&aliases)
}

// Network returns the network served at name.
func (h *Handler) Network(name string) *Network { return (*h.networks.Load())[name] }

// route finds the network of a path; alias reports one of its Paths;
// key is an API key in the path (/<network>/<key>).
func (h *Handler) route(path string) (n *Network, name string, alias bool, key string) {
	if a := h.aliases.Load(); a != nil && len(*a) > 0 {
		if n := (*a)[path]; n != nil {
			return n, n.Name, true, ""
		}
	}
	name = strings.Trim(path, "/")
	nets := *h.networks.Load()
	if name == "" && len(nets) == 1 {
		for _, n := range nets {
			return n, "", false, ""
		}
	}
	if n := nets[name]; n != nil {
		return n, name, false, ""
	}
	if a := h.access.Load(); a == nil || !a.HasKeys() {
		return nil, name, false, "" // no keys: /<network>/<anything> is unknown, as before
	}
	if n, key := splitKey(nets, name); n != nil {
		return n, n.Name, false, key
	}
	return nil, name, false, ""
}

// OriginAllowed reports whether the access settings let a browser page of
// origin read network's answers (access.cors_origins, the network's or the
// caller's key's); false without access settings.
func (h *Handler) OriginAllowed(origin, network string, c *access.Caller) bool {
	a := h.access.Load()
	return a != nil && a.OriginAllowed(origin, network, c)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	net, name, alias, pathKey := h.route(r.URL.Path)
	if net == nil {
		h.unknownNetwork(w, name)
		return
	}
	caller, ok := h.admitRequest(w, r, net, pathKey)
	if !ok {
		return
	}
	if r.Method != http.MethodPost {
		if h.Upgrade != nil && r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			if caller != nil {
				r = r.WithContext(access.WithCaller(r.Context(), caller))
			}
			if h.tracer != nil {
				r = r.WithContext(h.tracer.Incoming(r.Context(), propagation.HeaderCarrier(r.Header)))
			}
			h.Upgrade(w, r, net)
			return
		}
		if alias && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			servePrioGet(w)
			return
		}
		w.Header().Set("Allow", "POST")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{
			"error": "JSON-RPC is served with POST (or a WebSocket upgrade) at this path",
			"hint":  `curl -X POST -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' ` + "<this URL>",
		})
		return
	}
	ex := exchange{h: h, net: net, w: w, start: start, class: caller.Class(r.Header), caller: caller}
	if net.Consistent != nil {
		ex.client = ClientOf(r.Header, caller.Name())
	}
	if h.tracer != nil {
		ex.startSpan(propagation.HeaderCarrier(r.Header))
	}
	ex.begin(alias, r.Header.Get("X-Request-Id"))
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	body, err := readBody(r, h.options().MaxBodyBytes, (*bp)[:0])
	*bp = body[:0]
	ex.run(r.Context(), body, err)
}

// begin readies the exchange of a POST whose network and caller are
// known: the prio-load-balancer headers on such a path, the request ID.
func (ex *exchange) begin(alias bool, reqID string) {
	if alias {
		ex.prio = &prioWriter{ResponseWriter: ex.w, start: ex.start, class: ex.class, sizer: ex.net.sizer}
		ex.w = ex.prio
	}
	fw, fast := ex.w.(*fastWriter)
	if fast && !validRequestID(reqID) {
		// The id lives in the writer's room for as long as the request.
		fw.idBuf = ex.h.ids.appendNext(fw.idBuf[:0])
		reqID = b2s(fw.idBuf)
	}
	ex.reqID = reqID
	if !validRequestID(ex.reqID) {
		ex.reqID = ex.h.ids.next()
	}
	if fast {
		fw.setRequestID(ex.reqID)
	} else {
		ex.w.Header()["X-Request-Id"] = []string{ex.reqID}
	}
}

// run serves a request's body (or answers the error reading it) within
// its budget.
func (ex *exchange) run(parent context.Context, body []byte, err error) {
	if err != nil {
		ex.fail(err)
		ex.done()
		return
	}
	ex.serve(parent, body)
}

// readBody reads the request body under the size limit into buf.
func readBody(r *http.Request, limit int64, buf []byte) ([]byte, error) {
	if r.ContentLength > limit {
		return buf, errTooLarge
	}
	if r.ContentLength > 0 && int64(cap(buf)) < r.ContentLength {
		buf = make([]byte, 0, r.ContentLength)
	}
	lr := io.LimitReader(r.Body, limit+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, errClientGone
		}
	}
}

func (h *Handler) unknownNetwork(w http.ResponseWriter, name string) {
	nets := *h.networks.Load()
	known := make([]string, 0, len(nets))
	for n := range nets {
		known = append(known, n)
	}
	slices.Sort(known)
	msg := "unknown network " + `"` + name + `"`
	if name == "" {
		msg = "no network in the path: use /<network>"
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"error": msg, "networks": known})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Gateway errors that are not a node's fault.
var (
	errTooLarge   = jsonrpc.NewError(jsonrpc.CodeTooLarge, "request body is over max_body_bytes")
	errClientGone = errors.New("client went away")
	ErrNoNode     = errors.New("no node can take the call")
	// ErrNodesWaiting: every node that could take the call waits on its
	// rate limit past the call's deadline (a NodesWaitingError says how long).
	ErrNodesWaiting = errors.New("no node has room for the call in time")
)

// HTTPStatus is the HTTP status of a single call's answer whose error has
// the gateway's own code; ok is false for any other code (a node's own
// errors are answered with 200).
func HTTPStatus(code int) (status int, ok bool) {
	switch code {
	case jsonrpc.CodeParseError, jsonrpc.CodeInvalidRequest, jsonrpc.CodeBatchTooLarge:
		return http.StatusBadRequest, true
	case jsonrpc.CodeTooLarge:
		return http.StatusRequestEntityTooLarge, true
	case jsonrpc.CodeOverloaded, jsonrpc.CodeRateLimited, jsonrpc.CodeQuotaExceeded:
		return http.StatusTooManyRequests, true
	case jsonrpc.CodeUnauthorized:
		return http.StatusUnauthorized, true
	case jsonrpc.CodeForbidden, jsonrpc.CodeMethodNotOffered:
		return http.StatusForbidden, true
	case jsonrpc.CodeLimiterUnavailable:
		return http.StatusServiceUnavailable, true
	case jsonrpc.CodeTimeout:
		return http.StatusGatewayTimeout, true
	case jsonrpc.CodeNoNodes, jsonrpc.CodeShuttingDown:
		return http.StatusServiceUnavailable, true
	}
	return 0, false
}

// statusOf maps a gateway error to the HTTP status of a single call's answer.
func statusOf(e *jsonrpc.Error) int {
	if status, ok := HTTPStatus(e.Code); ok {
		return status
	}
	return http.StatusOK
}
