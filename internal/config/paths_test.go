package config

import (
	"strings"
	"testing"
)

// A network's paths, networks without nodes and admin.on_rpc: each mistake
// is reported under its key path with the fix; good files load.
func TestPathsAndRuntimeNodes(t *testing.T) {
	nodes := "    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the error; none: valid
	}{
		{"paths", "networks:\n  - name: default\n    paths: [\"/\", \"/sim\"]\n" + nodes, nil},
		{"own name as path", "networks:\n  - name: default\n    paths: [\"/default\"]\n" + nodes, nil},
		{"no slash", "networks:\n  - name: d\n    paths: [sim]\n" + nodes,
			[]string{"networks[0].paths[0]", `"sim" does not start with '/'`}},
		{"query", "networks:\n  - name: d\n    paths: [\"/sim?x=1\"]\n" + nodes,
			[]string{"networks[0].paths[0]", "is not a plain URL path"}},
		{"reserved", "networks:\n  - name: d\n    paths: [\"/status/x\"]\n" + nodes,
			[]string{"networks[0].paths[0]", "served by the gateway itself (/status)"}},
		{"nodes api", "networks:\n  - name: d\n    paths: [\"/nodes\"]\n" + nodes,
			[]string{"networks[0].paths[0]", "(/nodes)"}},
		{"another network", "networks:\n  - name: a\n" + nodes + "  - name: b\n    paths: [\"/a\"]\n" + nodes,
			[]string{"networks[1].paths[0]", `is the path of network "a"`}},
		{"twice", "networks:\n  - name: a\n    paths: [\"/\"]\n" + nodes + "  - name: b\n    paths: [\"/\"]\n" + nodes,
			[]string{"networks[1].paths[0]", "also a path of networks[0]"}},
		{"no nodes, no admin", "networks:\n  - name: d\n",
			[]string{"networks[0].local_nodes", "list at least one rpc_endpoint", "admin.on_rpc"}},
		{"no nodes, admin on rpc", "listen_addr: 127.0.0.1\nadmin:\n  on_rpc: true\nnetworks:\n  - name: d\n", nil},
		{"no nodes, admin listener", "admin:\n  listen: 127.0.0.1:9102\nnetworks:\n  - name: d\n", nil},
		{"no nodes, redis", "redis_url: redis://127.0.0.1:6379/0\nnetworks:\n  - name: d\n", nil},
		{"on_rpc open to all", "admin:\n  on_rpc: true\nnetworks:\n  - name: d\n" + nodes,
			[]string{"admin.on_rpc", `listen_addr "0.0.0.0"`, "set admin.token"}},
		{"on_rpc with token", "admin:\n  on_rpc: true\n  token: 0123456789abcdef\nnetworks:\n  - name: d\n" + nodes, nil},
		{"on_rpc localhost", "listen_addr: localhost\nadmin:\n  on_rpc: true\nnetworks:\n  - name: d\n" + nodes, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), nil)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("valid file refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want an error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.5": false, "example.com": false,
	} {
		if got := LoopbackHost(host); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
