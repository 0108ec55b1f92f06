package config

import (
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/attest"
)

const (
	snpHex = "111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111"
	// base64url(gzip(["11…11"])), as prio-load-balancer writes it.
	sevUser = "SEV_H4sIAAAAAAAA_4pWMqQxUIoFBAAA___FQFrUZAAAAA=="
)

func TestAttestedNodeYAML(t *testing.T) {
	cfg, err := Parse([]byte(`
attestation:
  collateral_dir: /var/lib/evmgate/collateral
  offline: true
  cache_ttl: 10m
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: https://10.0.0.5:8545
        ws_endpoint: wss://10.0.0.5:8546
        attestation:
          type: sev-snp
          measurements: [`+snpHex+`]
          nonce: true
          policy:
            minimum_tcb: {bootloader: 3, tee: 0, snp: 8, microcode: 115}
      - rpc_endpoint: "https://`+sevUser+`@10.0.0.6:8545"
      - rpc_endpoint: https://SGX_`+strings.Repeat("ab", 32)+`@10.0.0.7:8545
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Attestation.CacheTTL.D().Minutes() != 10 || !*cfg.Attestation.CheckRevocations || !cfg.Attestation.Offline {
		t.Fatalf("attestation section: %+v", cfg.Attestation)
	}
	nodes := cfg.Networks[0].LocalNodes
	a := nodes[0].Attestation
	if a == nil || a.Type != attest.SEVSNP || !a.Nonce || a.Policy.MinimumTCB == nil || a.Policy.MinimumTCB.Microcode != 115 {
		t.Fatalf("YAML attestation: %+v", a)
	}
	spec, rpc, _, err := nodes[1].AttestationOf()
	if err != nil || spec == nil || spec.Type != attest.SEVSNP || spec.Measurements[0] != snpHex || rpc != "https://10.0.0.6:8545" {
		t.Fatalf("SEV_ URI: %+v %q %v", spec, rpc, err)
	}
	spec, rpc, _, err = nodes[2].AttestationOf()
	if err != nil || spec == nil || spec.Type != attest.SGX || rpc != "https://10.0.0.7:8545" {
		t.Fatalf("SGX_ URI: %+v %q %v", spec, rpc, err)
	}
	for _, nd := range nodes {
		if strings.Contains(nd.DisplayName(), "_") {
			t.Fatalf("display name %q shows the URI's user name", nd.DisplayName())
		}
	}
}

func TestAttestedNodeErrors(t *testing.T) {
	node := func(s string) string {
		return "networks:\n  - name: mainnet\n    local_nodes:\n" + s
	}
	cases := []struct {
		name, yaml, want string
	}{
		{"http endpoint", node("      - rpc_endpoint: http://10.0.0.5:8545\n        attestation: {type: tdx, measurements: [" + snpHex + "]}\n"),
			"local_nodes[0].rpc_endpoint: an attested node is reached over TLS"},
		{"ws endpoint", node("      - rpc_endpoint: https://10.0.0.5:8545\n        ws_endpoint: ws://10.0.0.5:8546\n        attestation: {type: tdx, measurements: [" + snpHex + "]}\n"),
			"local_nodes[0].ws_endpoint: an attested node is reached over TLS: write wss://"},
		{"twice", node("      - rpc_endpoint: \"https://" + sevUser + "@10.0.0.5:8545\"\n        attestation: {type: sev-snp, measurements: [" + snpHex + "]}\n"),
			"the attestation is given more than once"},
		{"unknown type", node("      - rpc_endpoint: https://10.0.0.5:8545\n        attestation: {type: sev, measurements: [" + snpHex + "]}\n"),
			`local_nodes[0].attestation.type: "sev" is not a TEE`},
		{"short measurement", node("      - rpc_endpoint: https://10.0.0.5:8545\n        attestation: {type: sgx, measurements: [abcd]}\n"),
			"local_nodes[0].attestation.measurements[0]"},
		{"misspelt policy key", node("      - rpc_endpoint: https://10.0.0.5:8545\n        attestation: {type: sgx, measurements: [abcd], policy: {mr_signr: x}}\n"),
			`unknown key "mr_signr"`},
		{"bad SEV_ value", node("      - rpc_endpoint: https://SEV_aGVsbG8=@10.0.0.5:8545\n"), "rpc_endpoint: SEV_"},
		{"offline without a directory", "attestation: {offline: true}\n" + node("      - rpc_endpoint: https://10.0.0.5:8545\n"),
			"attestation.offline: needs attestation.collateral_dir"},
		{"SGX verifier without its certificate", "attestation: {sgx_verifier: {url: https://qvs.internal:8799}}\n" + node("      - rpc_endpoint: https://10.0.0.5:8545\n"),
			"attestation.sgx_verifier.signing_certificate: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), noEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "H4sI") || strings.Contains(err.Error(), "aGVsbG8") {
				t.Fatalf("the error shows the SEV_ value: %v", err)
			}
		})
	}
}
