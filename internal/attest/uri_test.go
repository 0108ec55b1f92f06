package attest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/attest"
)

// Encoded the way prio-load-balancer decodes them: base64url (padded) of
// gzip of the JSON document.
const (
	// ["1111…11"]: one launch measurement.
	sevOne = "SEV_H4sIAAAAAAAA_4pWMqQxUIoFBAAA___FQFrUZAAAAA=="
	// {"measurements":["abab…","cdcd…"],"nonce":true,"policy":{"minimum_tcb":{...}}}
	sevFull = "SEV_H4sIAAAAAAAA_7THQQoCMQwF0Lv8dRYOIkiuIiJtmkVh0gxtupChdxcPMbzVO2Gaxuxq2mKAX0j5WiBIuRbehOZNFBx9KuHwvcoXfMJqqzbtE5L_ze6xeyrawXeCVekuXhS8bQ_CaAf4SQhV8G2t9QsAAP__cHSeTy8BAAA="
	// {"0":{"expected":"00…","warnOnly":false},"4":{...}}: vTPM PCRs.
	sevPCRs = "SEV_H4sIAAAAAAAA_6pWMlCyqlZKrShITS5JTVGyUjKgECjpKJUnFuX55-VUKlmlJeYUp9bqKJmgWZJIIUCxpKSoNLW2FhAAAP__zfJowMoAAAA="
)

func TestFromURI(t *testing.T) {
	m := func(b string) string { return strings.Repeat(b, 48) }
	cases := []struct {
		name, uri, clean string
		want             *attest.Spec
		err              string
	}{
		{name: "plain node", uri: "https://10.0.0.5:8545", clean: "https://10.0.0.5:8545"},
		{name: "basic auth stays", uri: "https://user:pass@10.0.0.5:8545/rpc", clean: "https://user:pass@10.0.0.5:8545/rpc"},
		{name: "SGX", uri: "https://SGX_" + strings.Repeat("ab", 32) + "@10.0.0.5:8545", clean: "https://10.0.0.5:8545",
			want: &attest.Spec{Type: attest.SGX, Measurements: []string{strings.Repeat("ab", 32)}}},
		{name: "SGX with path and workers", uri: "https://SGX_" + strings.Repeat("AB", 32) + "@node.internal:8545/rpc?_workers=4",
			clean: "https://node.internal:8545/rpc?_workers=4", want: &attest.Spec{Type: attest.SGX, Measurements: []string{strings.Repeat("ab", 32)}}},
		{name: "SEV list", uri: "https://" + sevOne + "@10.0.0.5:8545", clean: "https://10.0.0.5:8545",
			want: &attest.Spec{Type: attest.SEVSNP, Measurements: []string{m("11")}}},
		{name: "SEV unpadded", uri: "https://" + strings.TrimRight(sevOne, "=") + "@10.0.0.5:8545", clean: "https://10.0.0.5:8545",
			want: &attest.Spec{Type: attest.SEVSNP, Measurements: []string{m("11")}}},
		{name: "SEV object", uri: "https://" + sevFull + "@10.0.0.5:8545", clean: "https://10.0.0.5:8545",
			want: &attest.Spec{Type: attest.SEVSNP, Measurements: []string{m("ab"), m("cd")}, Nonce: true,
				Policy: attest.Policy{MinimumTCB: &attest.SNPTCB{Bootloader: 3, SNP: 8, Microcode: 115}}}},
		{name: "SEV vTPM PCRs", uri: "https://" + sevPCRs + "@10.0.0.5:8545", err: "vTPM PCR"},
		{name: "SGX over http", uri: "http://SGX_" + strings.Repeat("ab", 32) + "@10.0.0.5:8545", err: "https://SGX_"},
		{name: "SGX short", uri: "https://SGX_abcd@10.0.0.5:8545", err: "64 hex digits"},
		{name: "SGX with password", uri: "https://SGX_" + strings.Repeat("ab", 32) + ":x@10.0.0.5:8545", err: "no password"},
		{name: "SEV not base64", uri: "https://SEV_!!!@10.0.0.5:8545", err: "base64url"},
		{name: "SEV not gzip", uri: "https://SEV_aGVsbG8=@10.0.0.5:8545", err: "not gzip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clean, spec, err := attest.FromURI(tc.uri)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if clean != tc.clean || !reflect.DeepEqual(spec, tc.want) {
				t.Fatalf("got %q %+v, want %q %+v", clean, spec, tc.clean, tc.want)
			}
			if spec != nil {
				if err := spec.Validate("attestation"); err != nil {
					t.Fatalf("the decoded attestation does not validate: %v", err)
				}
			}
		})
	}
}

func TestSEVUserinfoRoundTrip(t *testing.T) {
	enc, err := attest.SEVUserinfo([]string{strings.Repeat("11", 48)})
	if err != nil || enc != sevOne {
		t.Fatalf("SEVUserinfo = %q, %v; want %q", enc, err, sevOne)
	}
}

func TestSpecValidate(t *testing.T) {
	cases := []struct {
		name string
		spec attest.Spec
		err  string
	}{
		{"unknown type", attest.Spec{Type: "sev"}, `"sev" is not a TEE`},
		{"no measurement", attest.Spec{Type: attest.TDX}, "measurements: list at least one 48-byte"},
		{"short measurement", attest.Spec{Type: attest.SEVSNP, Measurements: []string{"abcd"}}, "measurements[0]"},
		{"policy of another type", attest.Spec{Type: attest.SGX, Measurements: []string{strings.Repeat("00", 32)},
			Policy: attest.Policy{RTMRs: []string{""}}}, "policy.rtmrs: applies to tdx nodes only"},
		{"bad status", attest.Spec{Type: attest.SGX, Measurements: []string{strings.Repeat("00", 32)},
			Policy: attest.Policy{AllowedStatuses: []string{"ok"}}}, "allowed_statuses[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate("networks[0].local_nodes[0].attestation")
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "networks[0].local_nodes[0].attestation.") {
				t.Fatalf("err = %v, want one naming the key and containing %q", err, tc.err)
			}
		})
	}
}
