package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
	"github.com/evmgate/evmgate/internal/gateway"
)

// Attested nodes as an operator configures them: one with
// prio-load-balancer's SEV_ URI whose report matches, one with the YAML
// attestation key whose measurement does not, the AMD chain and the CRL
// read offline from attestation.collateral_dir. Calls go to the first
// only; /status says why the second is out; the URI's user name shows
// nowhere in the process's output.
func TestAttestedNodesAsProcess(t *testing.T) {
	good, bad := bytes.Repeat([]byte{0x11}, 48), bytes.Repeat([]byte{0x22}, 48)
	snp := attesttest.NewSNP(t)
	nodes := fakeNodes(t, 2, 1)
	goodSrv := attesttest.NewServer(t, nodes[0], snp.Maker(t, good))
	badSrv := attesttest.NewServer(t, nodes[1], snp.Maker(t, good))
	userinfo, err := attest.SEVUserinfo([]string{hex.EncodeToString(good)})
	if err != nil {
		t.Fatal(err)
	}
	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, cfg, listeners(rpcPort, metricsPort)+snp.AttestationYAML(t)+fmt.Sprintf(`networks:
  - name: mainnet
    chain_id: 1
    local_nodes:
      - rpc_endpoint: "https://%s@%s"
        name: good
      - rpc_endpoint: %q
        name: bad
        attestation:
          type: sev-snp
          measurements: [%q]
`, userinfo, goodSrv.Addr, badSrv.URL, hex.EncodeToString(bad)))

	if code, stdout, stderr := runProc(t, "validate", "-config", cfg); code != 0 || !strings.Contains(stdout, "is valid: 1 network(s), 2 node(s)") {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	status := func(name string) gateway.NodeStatus { return nodeStatusOf(t, metricsPort, "mainnet", name) }
	eventually(t, time.Minute, "the good node attested and up", func() bool {
		st := status("good")
		return st.State == "up" && st.Attestation != nil && st.Attestation.Verified
	})
	for i := range 5 {
		code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", `{"jsonrpc":"2.0","id":`+itoa(i)+`,"method":"eth_blockNumber","params":[]}`)
		if code != 200 || body != `{"jsonrpc":"2.0","id":`+itoa(i)+`,"result":"0x64"}` {
			t.Fatalf("call %d: %d %s", i, code, body)
		}
	}
	if n := nodes[1].Requests(); n != 0 {
		t.Fatalf("the node failing attestation received %d requests", n)
	}
	if n := nodes[0].Calls("eth_blockNumber"); n < 5 {
		t.Fatalf("the attested node answered %d eth_blockNumber calls, want 5 or more", n)
	}
	st := status("bad")
	if st.State != "unattested" || st.Eligible || st.Attestation == nil || st.Attestation.Reason != "measurement" {
		t.Fatalf("the node whose measurement differs: %+v, attestation %+v", st, st.Attestation)
	}

	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
	if out := p.stdout.String() + p.stderr.String(); strings.Contains(out, userinfo) {
		t.Fatalf("the SEV_ user name is in the process's output:\n%s", grepLines(out, userinfo))
	}
}
