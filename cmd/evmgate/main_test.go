package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n    rpc_timout: 5s\n"), 0o600)
	attested := filepath.Join(t.TempDir(), "attested.yaml")
	os.WriteFile(attested, []byte("networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: https://SGX_"+strings.Repeat("ab", 32)+"@127.0.0.1:8545\n"+
		"      - rpc_endpoint: https://127.0.0.1:8546\n        attestation: {type: sev-snp, measurements: ["+strings.Repeat("11", 48)+"]}\n"), 0o600)
	badAttested := filepath.Join(t.TempDir(), "bad-attested.yaml")
	os.WriteFile(badAttested, []byte("networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8546\n        attestation: {type: tdx, measurements: [00]}\n"), 0o600)
	cases := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"version"}, "evmgate dev", ""},
		{[]string{"validate", "-config", "../../examples/evmgate.yaml"}, "is valid: 2 network(s)", ""},
		{[]string{"validate", "-config", bad}, "", `unknown key "rpc_timout"`},
		{[]string{"validate", "-config", "/nonexistent.yaml"}, "", "reading config"},
		{[]string{"validate", "-config", attested}, "is valid: 1 network(s)", ""},
		{[]string{"validate", "-config", badAttested}, "", "attestation.measurements[0]"},
		{[]string{"frobnicate"}, "", `unknown command "frobnicate"`},
		{[]string{"engine", "--jwt-secret", "/nonexistent"}, "", "--nodes is required"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut strings.Builder
			err := run(c.args, &out, &errOut)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), c.wantOut) {
				t.Fatalf("out %q err %v, want %q", out.String(), err, c.wantOut)
			}
		})
	}
}
