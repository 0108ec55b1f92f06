package attest_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxtest "github.com/google/go-tdx-guest/testing"
	"github.com/google/go-tdx-guest/testing/testdata"
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

// TestTDXRealQuoteWithCollateralOnDisk verifies go-tdx-guest's sample quote,
// signed by Intel's real PCK chain, against Intel's root built in and
// Intel's collateral read from an offline collateral directory: the PCK
// chain, the quote and QE report signatures, the CRLs and the signatures of
// the TCB info and QE identity pass, and the check reaches the TCB level
// evaluation, where the sample platform matches no level of the sample TCB
// info (reason tcb). Without the TCB info on disk it fails for collateral.
func TestTDXRealQuoteWithCollateralOnDisk(t *testing.T) {
	at := time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)
	write := func(dir string, skip string) {
		for url, r := range tdxtest.TestGetter.Responses {
			if url == skip {
				continue
			}
			attesttest.WriteCollateral(t, dir, url, r.Body)
			if r.Header != nil {
				p, _ := attest.Path(dir, url)
				h, _ := json.Marshal(r.Header)
				if err := os.WriteFile(p+".headers.json", h, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	real := func(testing.TB, [64]byte) []byte { return testdata.RawQuote }
	cert := attesttest.Certificate(t, real, attesttest.CertOptions{Gramine: true, NotBefore: at.Add(-time.Hour), NotAfter: at.Add(time.Hour)}, nil)
	q, _ := abi.QuoteToProto(testdata.RawQuote)
	mrtd := hex.EncodeToString(q.(*pb.QuoteV4).GetTdQuoteBody().GetMrTd())
	for _, tc := range []struct {
		name, skip string
		want       attest.Reason
	}{
		{"all collateral", "", attest.TCB},
		{"no TCB info", "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?fmspc=50806f000000", attest.Collateral},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, tc.skip)
			set := attest.Settings{CollateralDir: dir, Offline: true}
			set.Default()
			v, err := attest.New(set, attest.Options{Now: func() time.Time { return at }})
			if err != nil {
				t.Fatal(err)
			}
			n, err := v.Node(attest.Spec{Type: attest.TDX, Measurements: []string{mrtd}})
			if err != nil {
				t.Fatal(err)
			}
			wantReason(t, n.Verify(cert.Leaf, nil), tc.want)
		})
	}
}
