package restapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// maxBodyBytes bounds a route's request body: the bodies are a few dozen
// bytes.
const maxBodyBytes = 64 << 10

// route is one REST route: its path after the network (and after "ws/").
type route struct {
	name   string // path segment and metrics label
	method string // the HTTP method it is served with
	rpc    string // the JSON-RPC method it calls; "" for health
	// params turns the request body into the call's params.
	params func(body []byte) ([]byte, *apiError)
}

var routes = map[string]*route{
	"health":            {name: "health", method: http.MethodGet},
	"blocknumber":       {name: "blocknumber", method: http.MethodGet, rpc: "eth_blockNumber", params: noParams},
	"gasprice":          {name: "gasprice", method: http.MethodGet, rpc: "eth_gasPrice", params: noParams},
	"blockbynumber":     {name: "blockbynumber", method: http.MethodPost, rpc: "eth_getBlockByNumber", params: blockByNumberParams},
	"txbyblockandindex": {name: "txbyblockandindex", method: http.MethodPost, rpc: "eth_getTransactionByBlockNumberAndIndex", params: txByBlockAndIndexParams},
}

// socket2socket is the WebSocket route's path segment.
const socket2socket = "socket2socket"

// Handler serves the REST routes of the networks that enable them and hands
// every other request to the JSON-RPC handler.
type Handler struct {
	next    *proxy.Handler
	enabled atomic.Pointer[map[string]bool]
	m       *metrics
	now     func() time.Time
}

// New returns a handler serving the routes of networks in front of next.
// Its collectors are registered on reg.
func New(next *proxy.Handler, networks []string, reg prometheus.Registerer) (*Handler, error) {
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	h := &Handler{next: next, m: m, now: time.Now}
	h.Enable(networks)
	return h, nil
}

// Networks returns the names of the networks of cfg that set rest_api.
func Networks(cfg *config.Config) []string {
	var out []string
	for _, n := range cfg.Networks {
		if n.RESTAPI {
			out = append(out, n.Name)
		}
	}
	return out
}

// Enable replaces the networks whose routes are served.
func (h *Handler) Enable(networks []string) {
	set := make(map[string]bool, len(networks))
	for _, n := range networks {
		set[n] = true
	}
	h.enabled.Store(&set)
}

// Serves reports whether path is a REST route of a network that enables
// them: the JSON-RPC listener's fast server hands such requests over, so
// that a route's name is never read as an API key in the path.
func (h *Handler) Serves(path []byte) bool {
	name, sub, ok := bytes.Cut(bytes.TrimPrefix(path, []byte("/")), []byte("/"))
	if !ok || !(*h.enabled.Load())[string(name)] {
		return false
	}
	if rest, ws := bytes.CutPrefix(sub, []byte("ws/")); ws {
		return routes[string(rest)] != nil
	}
	return routes[string(sub)] != nil || string(sub) == socket2socket
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, sub, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !ok || !(*h.enabled.Load())[name] {
		h.next.ServeHTTP(w, r)
		return
	}
	overWS := false
	if rest, ok := strings.CutPrefix(sub, "ws/"); ok {
		sub, overWS = rest, true
	}
	rt := routes[sub]
	net := h.next.Network(name)
	if net == nil || rt == nil && (overWS || sub != socket2socket) {
		h.next.ServeHTTP(w, r)
		return
	}
	if rt == nil || rt.rpc != "" { // health stays open, for load balancers
		ctx, ok := h.next.Identify(w, r, net)
		if !ok {
			return
		}
		r = r.WithContext(ctx)
	}
	if rt == nil {
		h.socket(w, r, net)
		return
	}
	label := rt.name
	if overWS {
		label = "ws/" + rt.name
	}
	status := h.serve(w, r, net, rt, overWS)
	h.m.count(name, label, status)
}

// serve answers one REST request and returns the HTTP status it wrote (0
// when the client went away first).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, net *proxy.Network, rt *route, overWS bool) int {
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		return writeError(w, methodNotAllowed(r, rt))
	}
	if rt.rpc == "" {
		return writeHealth(w, h.now())
	}
	var body []byte
	if rt.method == http.MethodPost {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return writeError(w, errTooLarge)
		case err != nil:
			return 0 // the client went away
		}
	}
	params, aerr := rt.params(body)
	if aerr != nil {
		return writeError(w, aerr)
	}
	ctx := r.Context()
	if overWS {
		ctx = upstream.ViaWebSocket(ctx)
	}
	out := h.next.Do(ctx, net, callBody(rt.rpc, params), access.CallerFrom(ctx).Class(r.Header), "")
	if out == nil {
		return 0 // the client went away
	}
	return relay(w, out)
}

// socket hands a WebSocket upgrade to the gateway's WebSocket server with
// the calls marked for the nodes' WebSockets.
func (h *Handler) socket(w http.ResponseWriter, r *http.Request, net *proxy.Network) {
	if h.next.Upgrade == nil || r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		w.Header().Set("Upgrade", "websocket")
		h.m.count(net.Name, socket2socket, writeError(w, errNotWebSocket))
		return
	}
	h.m.count(net.Name, socket2socket, http.StatusSwitchingProtocols)
	h.next.Upgrade(w, r.WithContext(upstream.ViaWebSocket(r.Context())), net)
}

// callBody is the JSON-RPC call of a route, id 1 as the web server sent.
func callBody(method string, params []byte) []byte {
	b := make([]byte, 0, 64+len(method)+len(params))
	b = append(b, `{"jsonrpc":"2.0","id":1,"method":"`...)
	b = append(b, method...)
	b = append(b, `","params":`...)
	b = append(b, params...)
	return append(b, '}')
}
