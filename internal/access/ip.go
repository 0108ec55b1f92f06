package access

import (
	"net"
	"net/netip"
	"strings"
)

// clientIP is the peer's address, or, when the peer is a trusted proxy,
// the nearest untrusted address its X-Forwarded-For or Forwarded header
// names.
func clientIP(r Request, trusted []netip.Prefix) netip.Addr {
	peer := r.RemoteAddr()
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := forwardedFor(r)
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

func addrOf(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor lists the addresses of X-Forwarded-For, else of Forwarded's
// for= parameters, nearest client first.
func forwardedFor(h Request) []string {
	var out []string
	if v := h.Values("X-Forwarded-For"); len(v) > 0 {
		for _, line := range v {
			for _, s := range strings.Split(line, ",") {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return out
	}
	for _, line := range h.Values("Forwarded") {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				v = strings.Trim(v, `"`)
				if strings.HasPrefix(v, "[") { // [v6]:port
					v = strings.TrimPrefix(v[:strings.IndexByte(v+"]", ']')], "[")
				} else if host, _, err := net.SplitHostPort(v); err == nil {
					v = host
				}
				out = append(out, v)
			}
		}
	}
	return out
}
