package attest_test

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
)

var snpMeasurement = bytes.Repeat([]byte{0x11}, 48)

// snpFixture is a test AMD chain, its CRL on disk and an offline verifier
// that trusts the chain.
type snpFixture struct {
	snp *attesttest.SNP
	dir string
	v   *attest.Verifier
}

func newSNPFixture(t *testing.T, revoked ...*big.Int) *snpFixture {
	t.Helper()
	f := &snpFixture{snp: attesttest.NewSNP(t), dir: t.TempDir()}
	attesttest.WriteCollateral(t, f.dir, f.snp.CRLURL(), f.snp.CRL(t, revoked...))
	set := attest.Settings{CollateralDir: f.dir, Offline: true}
	set.Default()
	v, err := attest.New(set, attest.Options{SNPRoots: f.snp.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func (f *snpFixture) node(t *testing.T, spec attest.Spec) *attest.Node {
	t.Helper()
	n, err := f.v.Node(spec)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *snpFixture) reporter(measurement []byte, debug bool) attesttest.Reporter {
	return func(t testing.TB, rd [64]byte) []byte { return f.snp.Report(t, rd, measurement, debug) }
}

func snpSpec(nonce bool) attest.Spec {
	return attest.Spec{Type: attest.SEVSNP, Measurements: []string{hex.EncodeToString(snpMeasurement)}, Nonce: nonce}
}

func wantReason(t *testing.T, err error, want attest.Reason) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("verification failed: %v", err)
		}
		return
	}
	got, ok := attest.ReasonOf(err)
	if !ok || got != want {
		t.Fatalf("got %v, want reason %s", err, want)
	}
}

func TestSNPVerification(t *testing.T) {
	f := newSNPFixture(t)
	f.snp.WriteOfflineCollateral(t, f.dir)
	table := f.snp.CertTable(t)
	good := f.reporter(snpMeasurement, false)
	tampered := func(t testing.TB, rd [64]byte) []byte {
		raw := f.snp.Report(t, rd, snpMeasurement, false)
		raw[0x90] ^= 1 // the measurement, after signing
		return raw
	}
	nonce := []byte("0123456789abcdef")
	cases := []struct {
		name   string
		report attesttest.Reporter
		opts   attesttest.CertOptions
		nonce  bool // the node asks for a nonce
		want   attest.Reason
	}{
		{"valid with endorsements", good, attesttest.CertOptions{Endorsements: table}, false, ""},
		{"valid, VCEK from the collateral dir", good, attesttest.CertOptions{}, false, ""}, // see WriteOfflineCollateral below
		{"valid with nonce", good, attesttest.CertOptions{Endorsements: table}, true, ""},
		{"wrong measurement", f.reporter(bytes.Repeat([]byte{0x22}, 48), false), attesttest.CertOptions{Endorsements: table}, false, attest.Measurement},
		{"report bound to another key", good, attesttest.CertOptions{Endorsements: table, OtherKey: true}, false, attest.KeyBinding},
		{"expired certificate", good, attesttest.CertOptions{Endorsements: table, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}, false, attest.Expired},
		{"report for another nonce", good, attesttest.CertOptions{Endorsements: table, Nonce: []byte("fedcba9876543210")}, true, attest.Nonce},
		{"tampered report", tampered, attesttest.CertOptions{Endorsements: table}, false, attest.Signature},
		{"debug guest", f.reporter(snpMeasurement, true), attesttest.CertOptions{Endorsements: table}, false, attest.PolicyField},
		{"unattested certificate", good, attesttest.CertOptions{Plain: true}, false, attest.NoEvidence},
		{"Intel quote for an SEV-SNP node", good, attesttest.CertOptions{Tag: attest.TagIntelQuote}, false, attest.WrongType},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Tag == 0 {
				tc.opts.Tag = attest.TagSEVSNP
			}
			var sent []byte
			if tc.nonce {
				sent = nonce
			}
			cert := attesttest.Certificate(t, tc.report, tc.opts, sent)
			n := f.node(t, snpSpec(tc.nonce))
			err := n.Verify(cert.Leaf, sent)
			wantReason(t, err, tc.want)
			last := n.Last()
			if last == nil || last.OK != (tc.want == "") || last.Reason != tc.want {
				t.Fatalf("Last() = %+v, want reason %q", last, tc.want)
			}
		})
	}
}

func TestSNPRevokedKey(t *testing.T) {
	f := newSNPFixture(t)
	f = newSNPFixture(t, f.snp.Signer.Ask.SerialNumber)
	cert := attesttest.Certificate(t, f.reporter(snpMeasurement, false), attesttest.CertOptions{Tag: attest.TagSEVSNP, Endorsements: f.snp.CertTable(t)}, nil)
	wantReason(t, f.node(t, snpSpec(false)).Verify(cert.Leaf, nil), attest.Revoked)
}

func TestSNPOfflineWithoutCollateral(t *testing.T) {
	f := newSNPFixture(t)
	// No endorsements and no VCEK on disk: the offline verifier cannot get it.
	cert := attesttest.Certificate(t, f.reporter(snpMeasurement, false), attesttest.CertOptions{Tag: attest.TagSEVSNP}, nil)
	wantReason(t, f.node(t, snpSpec(false)).Verify(cert.Leaf, nil), attest.Collateral)
}

// TestSNPOverTLS runs the handshake hook against a server on 127.0.0.1
// that answers each connection's nonce.
func TestSNPOverTLS(t *testing.T) {
	f := newSNPFixture(t)
	table := f.snp.CertTable(t)
	srv := attesttest.NewServer(t, nil, func(nonce []byte) tls.Certificate {
		return attesttest.Certificate(t, f.reporter(snpMeasurement, false), attesttest.CertOptions{Tag: attest.TagSEVSNP, Endorsements: table}, nonce)
	})
	n := f.node(t, snpSpec(true))
	for i := range 2 {
		c, err := tls.Dial("tcp", srv.Addr, n.ClientConfig())
		if err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
		c.Close()
	}
	srv.SetCertificates(func(nonce []byte) tls.Certificate {
		return attesttest.Certificate(t, f.reporter(snpMeasurement, false), attesttest.CertOptions{Tag: attest.TagSEVSNP, Endorsements: table, Nonce: []byte("stale-nonce-0000")}, nonce)
	})
	_, err := tls.Dial("tcp", srv.Addr, n.ClientConfig())
	wantReason(t, err, attest.Nonce)
	if n.Failures()[attest.Nonce] != 1 {
		t.Fatalf("failures = %v, want one nonce failure", n.Failures())
	}
}
