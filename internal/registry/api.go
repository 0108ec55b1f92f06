package registry

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/evmgate/evmgate/internal/upstream"
	"net/http"
	"strings"
)

// maxRequestBytes bounds an admin request body.
const maxRequestBytes = 64 << 10

// Route is one more admin API route served beside the node routes.
type Route struct {
	Pattern string // an http.ServeMux pattern, e.g. "/admin/keys"
	Handler http.Handler
}

// Handler serves the admin API (routes in doc.go) and extra. When a token
// is configured, every route requires it.
func (r *Registry) Handler(extra ...Route) http.Handler {
	mux := http.NewServeMux()
	for _, e := range extra {
		mux.Handle(e.Pattern, e.Handler)
	}
	mux.HandleFunc("GET /nodes", r.serveLegacyList)
	mux.HandleFunc("POST /nodes", r.serveAdd)
	mux.HandleFunc("DELETE /nodes", r.serveRemove)
	mux.HandleFunc("GET /admin/networks", r.serveNetworks)
	mux.HandleFunc("GET /admin/networks/{network}/nodes", r.serveList)
	mux.HandleFunc("POST /admin/networks/{network}/nodes", r.serveAdd)
	mux.HandleFunc("DELETE /admin/networks/{network}/nodes", r.serveRemove)
	return r.authorize(mux)
}

// authorize requires "Authorization: Bearer <token>" when a token is set.
func (r *Registry) authorize(next http.Handler) http.Handler {
	if r.cfg.AdminToken == "" {
		return next
	}
	want := []byte(r.cfg.AdminToken)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		scheme, token, _ := strings.Cut(req.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(token), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="evmgate admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer <admin.token>")
			return
		}
		next.ServeHTTP(w, req)
	})
}

// network is the request's network: the path's, or the default one for
// prio-load-balancer's /nodes routes.
func (r *Registry) network(req *http.Request) string {
	if name := req.PathValue("network"); name != "" {
		return name
	}
	return r.DefaultNetwork()
}

// legacy reports whether req is one of prio-load-balancer's /nodes routes.
func legacy(req *http.Request) bool { return req.PathValue("network") == "" }

// serveLegacyList answers prio-load-balancer's GET /nodes: the default
// network's node URIs.
func (r *Registry) serveLegacyList(w http.ResponseWriter, _ *http.Request) {
	nodes, err := r.Nodes(r.DefaultNetwork())
	if err != nil {
		writeErr(w, err)
		return
	}
	uris := make([]string, len(nodes))
	for i, n := range nodes {
		uris[i] = n.URI
	}
	writeJSON(w, http.StatusOK, uris)
}

func (r *Registry) serveList(w http.ResponseWriter, req *http.Request) {
	nodes, err := r.Nodes(r.network(req))
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nodes)
}

// networksReply is the answer of GET /admin/networks.
type networksReply struct {
	Store          string            `json:"store"`
	StoreUp        bool              `json:"store_up"`
	DefaultNetwork string            `json:"default_network"`
	Networks       map[string][]Node `json:"networks"`
}

func (r *Registry) serveNetworks(w http.ResponseWriter, _ *http.Request) {
	cat := r.catalog()
	out := networksReply{Store: r.store.describe(), DefaultNetwork: cat.def, Networks: map[string][]Node{}}
	r.mu.Lock()
	out.StoreUp = r.storeUp
	r.mu.Unlock()
	for _, name := range cat.networks {
		out.Networks[name], _ = r.Nodes(name)
	}
	writeJSON(w, http.StatusOK, out)
}

// nodeRequest is the body of POST and DELETE.
type nodeRequest struct {
	URI       string              `json:"uri"`
	Tier      string              `json:"tier"`
	Name      string              `json:"name"`
	RateLimit *upstream.RateLimit `json:"rate_limit"`
}

func (r *Registry) serveAdd(w http.ResponseWriter, req *http.Request) {
	body, err := readRequest(w, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	n := Node{Network: r.network(req), URI: body.URI, Tier: body.Tier, Name: body.Name}
	if body.RateLimit != nil {
		n.RateLimit = *body.RateLimit
	}
	n, err = r.Add(req.Context(), n)
	if err != nil && legacy(req) && errors.Is(err, ErrDuplicate) {
		// prio-load-balancer answers 200 to adding a node it has.
		n, _ = r.find(r.network(req), body.URI)
		err = nil
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusCreated
	if legacy(req) {
		status = http.StatusOK // prio-load-balancer answers 200
	}
	writeJSON(w, status, n)
}

func (r *Registry) serveRemove(w http.ResponseWriter, req *http.Request) {
	body, err := readRequest(w, req)
	if err != nil {
		writeErr(w, err)
		return
	}
	if body.Tier != "" || body.Name != "" || body.RateLimit != nil {
		writeErr(w, fmt.Errorf("%w: DELETE takes only uri", ErrInvalid))
		return
	}
	n, err := r.Remove(req.Context(), r.network(req), body.URI)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func readRequest(w http.ResponseWriter, req *http.Request) (nodeRequest, error) {
	var body nodeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return body, fmt.Errorf("%w: request body must be a JSON object like {\"uri\": \"http://host:8545\"}: %w", ErrInvalid, err)
	}
	if dec.More() {
		return body, fmt.Errorf("%w: request body holds more than one JSON value", ErrInvalid)
	}
	return body, nil
}

// status maps an Add or Remove error to an HTTP status.
func status(err error) int {
	switch {
	case errors.Is(err, ErrUnknownNetwork), errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrRejected):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrDuplicate):
		return http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeErr(w http.ResponseWriter, err error) { writeError(w, status(err), err.Error()) }

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeJSON answers v as JSON, with <, > and & as they are: the answers are
// read with curl as often as by programs, and node URLs carry &.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
