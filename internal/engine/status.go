package engine

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// statusReport is executionbackup's GET /metrics document. Node URLs are
// shown without credentials.
type statusReport struct {
	ResponseTimes map[string]int64 `json:"response_times"` // last probe round trip, µs (alive and syncing nodes)
	AliveNodes    []string         `json:"alive_nodes"`
	SyncingNodes  []string         `json:"syncing_nodes"`
	DeadNodes     []string         `json:"dead_nodes"`
	PrimaryNode   string           `json:"primary_node"`
	RecheckTime   *int64           `json:"recheck_time,omitempty"` // µs, GET /recheck only
}

func (m *Mux) report() statusReport {
	r := statusReport{ResponseTimes: map[string]int64{}, AliveNodes: []string{}, SyncingNodes: []string{}, DeadNodes: []string{}}
	for _, n := range m.nodeList() {
		switch n.getState() {
		case stateAlive:
			r.AliveNodes = append(r.AliveNodes, n.name)
		case stateSyncing:
			r.SyncingNodes = append(r.SyncingNodes, n.name)
		default:
			r.DeadNodes = append(r.DeadNodes, n.name)
			continue
		}
		r.ResponseTimes[n.name] = time.Duration(n.rtt.Load()).Microseconds()
	}
	if p := m.primary(); p != nil {
		r.PrimaryNode = p.name
	}
	return r
}

// writeJSON answers v as JSON, with <, > and & as they are.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (m *Mux) serveStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, m.report())
}

// admin guards an endpoint with the admin token; without a configured token
// the endpoint is off.
func (m *Mux) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if m.cfg.AdminToken == "" {
			http.Error(w, "admin endpoints are off: set engine.admin_token (evmgate engine --admin-token)", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(m.cfg.AdminToken)) != 1 {
			http.Error(w, "missing or wrong admin token", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func (m *Mux) serveRecheck(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	m.recheck(r.Context())
	rep := m.report()
	us := time.Since(start).Microseconds()
	rep.RecheckTime = &us
	writeJSON(w, http.StatusOK, rep)
}

// serveAddNodes takes {"nodes": ["URL#jwt-secret=PATH#timeout=MS#do-not-use", ...]},
// adds the new nodes (a URL already present is an error), probes every node
// and answers with the report.
func (m *Mux) serveAddNodes(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Nodes []string `json:"nodes"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil || len(in.Nodes) == 0 {
		http.Error(w, `want {"nodes": ["URL#jwt-secret=PATH#timeout=MS", ...]}`, http.StatusBadRequest)
		return
	}
	if err := m.AddNodes(in.Nodes); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m.recheck(r.Context())
	writeJSON(w, http.StatusOK, m.report())
}

// AddNodes adds nodes given in executionbackup's --nodes syntax while the Mux
// runs. Nothing is added if any spec is wrong.
func (m *Mux) AddNodes(specs []string) error {
	m.addMu.Lock()
	defer m.addMu.Unlock()
	if m.closed.Load() {
		return errors.New("adding engine nodes: closed")
	}
	old := m.nodeList()
	secret := m.verifier.secret
	added := make([]*node, 0, len(specs))
	for _, spec := range specs {
		nc, err := ParseNodeSpec(spec)
		if err != nil {
			return fmt.Errorf("adding engine nodes: %w", err)
		}
		if err := checkNodeURL(nc.URL); err != nil {
			return fmt.Errorf("adding engine nodes: %w", err)
		}
		if slices.ContainsFunc(old, func(n *node) bool { return n.url == nc.URL }) ||
			slices.ContainsFunc(added, func(n *node) bool { return n.url == nc.URL }) {
			return fmt.Errorf("adding engine nodes: %s is already a node", nodeurl.Redact(nc.URL))
		}
		n, err := newNode(len(old)+len(added), nc, secret, m.dur.node)
		if err != nil {
			return fmt.Errorf("adding engine nodes: %w", err)
		}
		added = append(added, n)
	}
	nodes := append(slices.Clip(old), added...)
	m.nodes.Store(&nodes)
	for _, n := range added {
		m.startNode(n)
	}
	return nil
}
