package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/evmgate/evmgate/internal/fakenode"
)

// `evmgate -config FILE` serves the documented example and both StakeSquid
// README configurations, each with its node URLs pointed at local fake nodes
// and its ports at free ones; everything else in the files is as shipped.
func TestServeDocumentedConfigsAsProcess(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "node_load1 0.42\nnode_load5 0.3\nnode_load15 0.2\n")
	}))
	defer exporter.Close()
	for _, file := range []string{
		"../../examples/evmgate.yaml",
		"../../internal/config/testdata/stakesquid-example.yaml",
		"../../internal/config/testdata/stakesquid-minimal.yaml",
	} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rpcPort, metricsPort := freePort(t), freePort(t)
			text, networks := localise(t, raw, rpcPort, metricsPort, exporter.URL)
			cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
			writeFile(t, cfg, text)
			p := startProc(t, nil, "-config", cfg)
			p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
			for _, name := range networks {
				code, body := rpc(t, "http://"+addr(rpcPort)+"/"+name, `{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}`)
				if code != 200 || body != `{"jsonrpc":"2.0","id":7,"result":"0x64"}` {
					t.Fatalf("%s: %d %s", name, code, body)
				}
			}
			if code, body := get(t, "http://"+addr(metricsPort)+"/ready"); code != 200 {
				t.Fatalf("/ready: %d %s", code, body)
			}
			if code, body := get(t, "http://"+addr(metricsPort)+"/metrics"); code != 200 || !strings.Contains(body, "loadbalancer_requests_total") {
				t.Fatalf("/metrics: %d", code)
			}
			if code, took := p.terminate(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
			}
			if !refused(addr(rpcPort)) || !refused(addr(metricsPort)) {
				t.Fatal("a port still listens after the process exited")
			}
		})
	}
}

// localise rewrites a configuration for this machine: every node URL to a
// fake node (answering the network's chain_id), every exporter URL to the
// given one, the listeners to 127.0.0.1 and the given ports. It returns the
// text and the network names.
func localise(t *testing.T, raw []byte, rpcPort, metricsPort int, exporter string) (string, []string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	yset(root, "listen_addr", "127.0.0.1")
	yset(root, "metrics_addr", "127.0.0.1")
	yset(root, "port", strconv.Itoa(rpcPort))
	yset(root, "metrics_port", strconv.Itoa(metricsPort))
	if admin := yget(root, "admin"); admin != nil {
		yset(admin, "listen", addr(freePort(t)))
	}
	var names []string
	for _, n := range yget(root, "networks").Content {
		names = append(names, yget(n, "name").Value)
		chainID := uint64(1)
		if c := yget(n, "chain_id"); c != nil {
			chainID, _ = strconv.ParseUint(c.Value, 10, 64)
		}
		for _, tier := range []string{"local_nodes", "monitoring_nodes", "fallback_nodes"} {
			list := yget(n, tier)
			if list == nil {
				continue
			}
			for _, node := range list.Content {
				f := fakeNodes(t, 1, chainID)[0]
				yset(node, "rpc_endpoint", f.URL())
				if ws := yget(node, "ws_endpoint"); ws != nil {
					ws.Value = "ws" + strings.TrimPrefix(f.URL(), "http")
				}
				if pe := yget(node, "prometheus_endpoint"); pe != nil {
					pe.Value = exporter
				}
			}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), names
}

// yget returns the value of key in a mapping node, or nil.
func yget(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// yset replaces the scalar value of key in a mapping node, adding it if absent.
func yset(m *yaml.Node, key, value string) {
	if v := yget(m, key); v != nil {
		v.Value, v.Tag, v.Style = value, "", 0
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Value: value})
}

// fakeNodes starts n fake nodes at head 100 (0x64) for chain id.
func fakeNodes(t *testing.T, n int, chainID uint64) []*fakenode.Node {
	t.Helper()
	var out []*fakenode.Node
	for i := range n {
		f, err := fakenode.Start(fakenode.Options{Name: "fake" + strconv.Itoa(i), ChainID: chainID, Head: 100})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		out = append(out, f)
	}
	return out
}

// twoNodeProc starts evmgate serving network name (chain chainID) over the
// fake nodes a and b, with the network's extra keys (lines indented four
// spaces), and returns the process and the RPC and metrics base URLs once
// it has started.
func twoNodeProc(t *testing.T, name string, chainID uint64, extra string, a, b *fakenode.Node) (p *proc, rpcBase, metricsBase string) {
	t.Helper()
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+"networks:\n"+
		"  - name: "+name+"\n    chain_id: "+strconv.FormatUint(chainID, 10)+"\n"+extra+
		"    local_nodes:\n"+
		"      - rpc_endpoint: "+a.URL()+"\n        name: a\n"+
		"      - rpc_endpoint: "+b.URL()+"\n        name: b\n")
	p = startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	return p, "http://" + addr(rpcPort), "http://" + addr(metricsPort)
}

func itoa(i int) string { return strconv.Itoa(i) }
