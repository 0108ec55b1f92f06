package attest_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
)

var tdxMRTD = bytes.Repeat([]byte{0x33}, 48)

func TestTDXVerification(t *testing.T) {
	tdx := attesttest.NewTDX(t)
	set := attest.Settings{}
	set.Default()
	v, err := attest.New(set, attest.Options{TDXRoots: tdx.Roots(), TDXNoCollateral: true})
	if err != nil {
		t.Fatal(err)
	}
	other := attesttest.NewTDX(t) // a chain the verifier does not trust
	quote := func(x *attesttest.TDX, mrtd []byte, debug bool) attesttest.Reporter {
		return func(t testing.TB, rd [64]byte) []byte { return x.Quote(t, rd, mrtd, debug) }
	}
	snp := attesttest.NewSNP(t)
	cases := []struct {
		name   string
		report attesttest.Reporter
		opts   attesttest.CertOptions
		policy attest.Policy
		want   attest.Reason
	}{
		{"valid", quote(tdx, tdxMRTD, false), attesttest.CertOptions{}, attest.Policy{}, ""},
		{"wrong RTMR1", quote(tdx, tdxMRTD, false), attesttest.CertOptions{}, attest.Policy{RTMRs: []string{"", hex.EncodeToString(bytes.Repeat([]byte{0x55}, 48))}}, attest.Measurement},
		{"wrong MRTD", quote(tdx, bytes.Repeat([]byte{0x44}, 48), false), attesttest.CertOptions{}, attest.Policy{}, attest.Measurement},
		{"untrusted PCK chain", quote(other, tdxMRTD, false), attesttest.CertOptions{}, attest.Policy{}, attest.Signature},
		{"report bound to another key", quote(tdx, tdxMRTD, false), attesttest.CertOptions{OtherKey: true}, attest.Policy{}, attest.KeyBinding},
		{"debug TD", quote(tdx, tdxMRTD, true), attesttest.CertOptions{}, attest.Policy{}, attest.PolicyField},
		{"debug TD allowed", quote(tdx, tdxMRTD, true), attesttest.CertOptions{}, attest.Policy{AllowDebug: true}, ""},
		{"wrong MRCONFIGID", quote(tdx, tdxMRTD, false), attesttest.CertOptions{}, attest.Policy{MrConfigID: hex.EncodeToString(bytes.Repeat([]byte{9}, 48))}, attest.PolicyField},
		{"SEV-SNP report for a TDX node", func(t testing.TB, rd [64]byte) []byte { return snp.Report(t, rd, tdxMRTD, false) },
			attesttest.CertOptions{Tag: attest.TagSEVSNP}, attest.Policy{}, attest.WrongType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Tag == 0 {
				tc.opts.Tag = attest.TagIntelQuote
			}
			n, err := v.Node(attest.Spec{Type: attest.TDX, Measurements: []string{hex.EncodeToString(tdxMRTD)}, Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			cert := attesttest.Certificate(t, tc.report, tc.opts, nil)
			wantReason(t, n.Verify(cert.Leaf, nil), tc.want)
		})
	}
}
