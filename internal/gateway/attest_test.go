package gateway_test

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/gateway"
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
	g := startGateway(t, snp.AttestationYAML(t)+netYAML("", nodes))

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

	// The good node restarts with a certificate that carries no attestation.
	before := good.fake.Requests()
	good.srv.Restart(func([]byte) tls.Certificate {
		return attesttest.Certificate(t, nil, attesttest.CertOptions{Plain: true}, nil)
	})
	r := post(t, g.RPCURL()+"/mainnet", blockNumber)
	if r.status == 200 && strings.Contains(r.body, `"result"`) {
		t.Fatalf("a call was answered with no attested node: %s", r.body)
	}
	if got := good.fake.Requests(); got != before {
		t.Fatalf("the node received %d requests after its certificate lost its attestation", got-before)
	}
	waitFor(t, "the node to be marked unattested", func() bool {
		st := nodeStatus(t, g, "good")
		return st.State == "unattested" && st.Attestation != nil && st.Attestation.Reason == "no_evidence"
	})
}
