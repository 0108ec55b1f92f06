package config

import (
	"fmt"
	"net"
	"slices"
	"strings"
)

// validateRuntime checks what depends on runtime node management and on
// the JSON-RPC listener: networks without configured nodes, each
// network's paths, and the admin API on the JSON-RPC listener.
func (c *Config) validateRuntime(p *problems) {
	runtimeNodes := c.Admin.AdminListen != "" || c.Admin.OnRPC || c.Admin.RedisURL != ""
	owner := map[string]int{}
	for i := range c.Networks {
		n := &c.Networks[i]
		path := fmt.Sprintf("networks[%d]", i)
		if len(n.LocalNodes)+len(n.MonitoringNodes)+len(n.FallbackNodes) == 0 && !runtimeNodes {
			p.add(path+".local_nodes", "the network has no nodes: list at least one rpc_endpoint, "+
				"or turn on the admin API (admin.listen or admin.on_rpc) to add nodes at run time")
		}
		for j, rp := range n.Paths {
			key := fmt.Sprintf("%s.paths[%d]", path, j)
			if msg := c.checkPath(rp, n.Name); msg != "" {
				p.add(key, "%q %s", rp, msg)
				continue
			}
			if k, dup := owner[rp]; dup {
				p.add(key, "%q is also a path of networks[%d]: a path serves one network", rp, k)
				continue
			}
			owner[rp] = i
		}
	}
	if c.Admin.OnRPC {
		switch {
		case len(c.Networks) == 0:
			p.add("admin.on_rpc", "needs a network: the admin API manages the nodes of networks")
		case !LoopbackHost(c.ListenAddr) && c.Admin.AdminToken == "":
			p.add("admin.on_rpc", "the JSON-RPC listener (listen_addr %q) is not a loopback address: "+
				"set admin.token, or listen_addr: 127.0.0.1", c.ListenAddr)
		}
	}
}

// checkPath says what is wrong with a network's extra path ("" if nothing).
func (c *Config) checkPath(rp, own string) string {
	switch {
	case !strings.HasPrefix(rp, "/"):
		return "does not start with '/': write it like \"/sim\""
	case len(rp) > 256 || strings.ContainsAny(rp, "?#%\\ \t\r\n") || strings.Contains(rp, "//") ||
		slices.Contains(strings.Split(rp, "/"), ".."):
		return "is not a plain URL path: use letters, digits, '.', '_', '-' and '/', like \"/sim\""
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(rp, "/"), "/")
	if slices.Contains(ReservedNetworkNames, strings.ToLower(first)) {
		return fmt.Sprintf("is served by the gateway itself (/%s): choose another path", strings.ToLower(first))
	}
	name := strings.Trim(rp, "/")
	for _, n := range c.Networks {
		if n.Name == name && n.Name != own {
			return fmt.Sprintf("is the path of network %q: choose another path", n.Name)
		}
	}
	return ""
}

// LoopbackHost reports whether a listener host accepts only local
// connections ("localhost" or a loopback IP; "" and "0.0.0.0" do not).
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
