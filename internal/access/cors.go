package access

import (
	"net/http"
	"slices"
	"strconv"
)

// corsAllowHeaders are the request headers a browser may send.
const corsAllowHeaders = "Content-Type, X-API-Key, Authorization, X-Request-Id, X-Client-ID, X-Fast-Track, X-High-Priority"

// corsMaxAge is how long a browser may keep a preflight's answer (s).
const corsMaxAge = 600

// Preflight answers a CORS preflight to network itself (handled true:
// nothing more to do, no node is asked). Origins are allowed per network,
// globally, or by a key (a preflight carries no header key, so every
// key's origins pass the preflight; AllowOrigin then checks the actual
// request against its own key's). Without any CORS setting, a preflight
// is left to the handler, as before.
func (a *Access) Preflight(w http.ResponseWriter, r *http.Request, network, pathKey string) (handled bool) {
	return a.PreflightOf(w, r.Method, stdRequest{r}, network, pathKey)
}

// PreflightOf is Preflight for a request of any server, sent with method.
func (a *Access) PreflightOf(w http.ResponseWriter, method string, r Header, network, pathKey string) (handled bool) {
	origin := r.Get("Origin")
	if origin == "" || method != http.MethodOptions || r.Get("Access-Control-Request-Method") == "" {
		return false
	}
	s := a.snap.Load()
	var k *Key
	if pathKey != "" {
		k, _ = s.lookup(pathKey, a.now())
	}
	ok := s.originAllowed(origin, network, k) || s.keyCORS[origin] || s.keyCORS["*"]
	if !ok {
		if len(s.cors) == 0 && len(s.keyCORS) == 0 && !s.anyNetCORS() {
			return false // CORS is not configured: as without it
		}
		writeJSON(w, http.StatusForbidden, errBody("origin "+strconv.Quote(Clip(origin))+
			" may not call this endpoint: add it to access.cors_origins, the network's or the key's cors_origins"))
		return true
	}
	h := w.Header()
	setCORS(h, origin)
	h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// AllowOrigin sets, on an actual request from a browser origin allowed
// for network (globally, by the network or by c's key), the headers that
// let the page read the answer.
func (a *Access) AllowOrigin(w http.ResponseWriter, r *http.Request, network string, c *Caller) {
	a.AllowOriginOf(w, r.Header.Get("Origin"), network, c)
}

// AllowOriginOf is AllowOrigin for a request whose Origin header is origin.
func (a *Access) AllowOriginOf(w http.ResponseWriter, origin, network string, c *Caller) {
	if origin == "" {
		return
	}
	var k *Key
	if c != nil {
		k = c.Key
	}
	if a.snap.Load().originAllowed(origin, network, k) {
		setCORS(w.Header(), origin)
	}
}

// OriginAllowed reports whether a browser page of origin may read the
// answers of network (globally, by the network or by c's key).
func (a *Access) OriginAllowed(origin, network string, c *Caller) bool {
	var k *Key
	if c != nil {
		k = c.Key
	}
	return a.snap.Load().originAllowed(origin, network, k)
}

func (s *snapshot) originAllowed(origin, network string, k *Key) bool {
	match := func(list []string) bool { return slices.Contains(list, origin) || slices.Contains(list, "*") }
	if match(s.cors) {
		return true
	}
	if n := s.nets[network]; n != nil && match(n.cors) {
		return true
	}
	return k != nil && match(k.corsOrigins)
}

func (s *snapshot) anyNetCORS() bool {
	for _, n := range s.nets {
		if len(n.cors) > 0 {
			return true
		}
	}
	return false
}

func setCORS(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
	h.Add("Vary", "Origin")
}
