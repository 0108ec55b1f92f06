package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
	"github.com/evmgate/evmgate/internal/upstream"
)

var (
	goodMeasurement = bytes.Repeat([]byte{0x11}, 48)
	badMeasurement  = bytes.Repeat([]byte{0x22}, 48)
)

// attestedNode is a fake node behind a TLS server on 127.0.0.1 whose
// certificate carries an SEV-SNP report signed by the test AMD chain.
type attestedNode struct {
	fake *fakenode.Node
	srv  *attesttest.Server
}

func startAttested(t *testing.T, snp *attesttest.SNP, name string, measurement []byte) *attestedNode {
	t.Helper()
	f, err := fakenode.Start(fakenode.Options{Name: name, ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	srv := attesttest.NewServer(t, f, snp.Maker(t, measurement))
	return &attestedNode{fake: f, srv: srv}
}

func nodeStatus(t *testing.T, g *gateway.Gateway, name string) gateway.NodeStatus {
	t.Helper()
	resp, err := http.Get(g.MetricsURL() + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st gateway.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	for _, n := range st.Networks[0].Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("node %q is not in /status", name)
	return gateway.NodeStatus{}
}

// TestAttestedNodes runs a gateway with two attested nodes: one given as
// prio-load-balancer's SEV_ URI whose report matches, one with the YAML
// form whose measurement does not. Only the first is served; the second
// never receives a request, and /status and the metrics say why. When the
// first restarts with an unattested certificate, it is dropped before its
// next call.
func TestAttestedNodes(t *testing.T) {
	snp := attesttest.NewSNP(t)
	good := startAttested(t, snp, "good", goodMeasurement)
	bad := startAttested(t, snp, "bad", goodMeasurement)
	userinfo, err := attest.SEVUserinfo([]string{hex.EncodeToString(goodMeasurement)})
	if err != nil {
		t.Fatal(err)
	}
	nodes := fmt.Sprintf(`    local_nodes:
      - rpc_endpoint: "https://%s@%s"
        name: good
      - rpc_endpoint: %q
        name: bad
        attestation:
          type: sev-snp
          measurements: [%q]
`, userinfo, good.srv.Addr, bad.srv.URL, hex.EncodeToString(badMeasurement))
	// A generous rpc_timeout: the attested handshake of a probe must not
	// time out on a busy machine, or the bad node reads as down.
	g := startGateway(t, snp.AttestationYAML(t)+netYAML("    rpc_timeout: 10s\n", nodes))

	for range 5 {
		if r := post(t, g.RPCURL()+"/mainnet", blockNumber); r.status != 200 || !strings.Contains(r.body, `"result":"0x64"`) {
			t.Fatalf("call: %d %s", r.status, r.body)
		}
	}
	if bad.fake.Requests() != 0 {
		t.Fatalf("the node failing attestation received %d requests", bad.fake.Requests())
	}
	if good.fake.Calls("eth_blockNumber") < 5 {
		t.Fatalf("the attested node answered %d calls, want 5 or more", good.fake.Calls("eth_blockNumber"))
	}
	st := nodeStatus(t, g, "bad")
	if st.State != "unattested" || st.Eligible || st.Attestation == nil || st.Attestation.Reason != "measurement" ||
		!strings.Contains(st.Reason, "measurement") {
		t.Fatalf("bad node status: %+v attestation %+v", st, st.Attestation)
	}
	if st := nodeStatus(t, g, "good"); st.State != "up" || st.Attestation == nil || !st.Attestation.Verified {
		t.Fatalf("good node status: %+v attestation %+v", st, st.Attestation)
	}
	if v := metricValue(t, g.MetricsURL(), `evmgate_node_attested{network="mainnet",rpc_endpoint="bad"}`); v != "0" {
		t.Fatalf("evmgate_node_attested of bad = %q", v)
	}
	if v := metricValue(t, g.MetricsURL(), `evmgate_node_attestation_failures_total{network="mainnet",reason="measurement",rpc_endpoint="bad"}`); v == "" || v == "0" {
		t.Fatalf("no measurement failure counted for bad: %q", v)
	}

	// The good node restarts with a certificate that carries no attestation:
	// its next connection fails the handshake, so it is dropped, and no
	// call reaches it from then on.
	good.srv.Restart(func([]byte) tls.Certificate {
		return attesttest.Certificate(t, nil, attesttest.CertOptions{Plain: true}, nil)
	})
	waitFor(t, "the node to be marked unattested", func() bool {
		st := nodeStatus(t, g, "good")
		return st.State == "unattested" && st.Attestation != nil && st.Attestation.Reason == "no_evidence"
	})
	before := good.fake.Requests()
	r := post(t, g.RPCURL()+"/mainnet", blockNumber)
	if r.status == 200 && strings.Contains(r.body, `"result"`) {
		t.Fatalf("a call was answered with no attested node: %s", r.body)
	}
	if got := good.fake.Requests(); got != before {
		t.Fatalf("the node received %d requests after its certificate lost its attestation", got-before)
	}
}

// TestAttestedURINotSentAsCredentials: the SEV_ user name of a
// prio-load-balancer URI is configuration: it is not sent as basic auth,
// and no name, status or error shows it.
func TestAttestedURINotSentAsCredentials(t *testing.T) {
	snp := attesttest.NewSNP(t)
	var auth []string
	srv := attesttest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"0x1"}`))
	}), snp.Maker(t, goodMeasurement))
	userinfo, _ := attest.SEVUserinfo([]string{hex.EncodeToString(goodMeasurement)})
	uri := "https://" + userinfo + "@" + srv.Addr + "/rpc?_workers=3"
	cfg, err := config.Parse([]byte(snp.AttestationYAML(t)+"networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: \""+uri+"\"\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.New(cfg.Attestation, attest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	nd := cfg.Networks[0].LocalNodes[0]
	spec, err := gateway.NodeSpec(cfg.Networks[0], nd, upstream.Local, v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(spec.URL, "SEV_") || strings.Contains(spec.Name, "SEV_") || spec.MaxConcurrency != 3 || spec.Attest == nil {
		t.Fatalf("spec: url %q name %q workers %d attested %v", spec.URL, spec.Name, spec.MaxConcurrency, spec.Attest != nil)
	}
	n := upstream.New(spec)
	defer n.Close()
	if _, err := n.Call(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)); err != nil {
		t.Fatal(err)
	}
	if len(auth) != 1 || auth[0] != "" {
		t.Fatalf("Authorization headers seen by the node: %q", auth)
	}
}

// TestAdminAddsAttestedNode: prio-load-balancer's POST /nodes takes an
// SGX_/SEV_ URI; the node joins only when its certificate passes.
func TestAdminAddsAttestedNode(t *testing.T) {
	snp := attesttest.NewSNP(t)
	good := startAttested(t, snp, "good", goodMeasurement)
	other := startAttested(t, snp, "other", badMeasurement)
	first := startAttested(t, snp, "first", goodMeasurement)
	g := startGateway(t, adminYAML("")+snp.AttestationYAML(t)+netYAML("", fmt.Sprintf(
		"    local_nodes:\n      - rpc_endpoint: %q\n        name: first\n        attestation: {type: sev-snp, measurements: [%q]}\n",
		first.srv.URL, hex.EncodeToString(goodMeasurement))))
	userinfo, _ := attest.SEVUserinfo([]string{hex.EncodeToString(goodMeasurement)})
	code, out := adminCall(t, "POST", g.AdminURL()+"/nodes", adminToken, `{"uri":"https://`+userinfo+"@"+other.srv.Addr+`"}`)
	if code != 422 || !strings.Contains(out, "attestation failed: measurement") || strings.Contains(out, "SEV_") {
		t.Fatalf("adding a node whose attestation fails: %d %s", code, out)
	}
	if code, out := adminCall(t, "POST", g.AdminURL()+"/nodes", adminToken, `{"uri":"https://`+userinfo+"@"+good.srv.Addr+`"}`); code != 200 && code != 201 {
		t.Fatalf("adding an attested node: %d %s", code, out)
	}
	waitFor(t, "the added node to be served", func() bool { return nodeStatus(t, g, "https://"+good.srv.Addr).State == "up" })
	if other.fake.Requests() != 0 {
		t.Fatalf("the refused node received %d requests", other.fake.Requests())
	}
}
