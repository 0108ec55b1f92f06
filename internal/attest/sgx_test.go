package attest_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/evmgate/evmgate/internal/attest/attesttest"
)

var mrenclave = bytes.Repeat([]byte{0x77}, 32)

func sgxReporter(m []byte, debug bool) attesttest.Reporter {
	return func(_ testing.TB, rd [64]byte) []byte { return attesttest.SGXQuote(rd, m, debug) }
}

func TestSGXVerification(t *testing.T) {
	qvs := attesttest.NewQVS(t)
	set := attest.Settings{SGXVerifier: attest.SGXVerifier{URL: qvs.URL, SigningCertificate: qvs.CertFile}}
	set.Default()
	v, err := attest.New(set, attest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		status string
		report attesttest.Reporter
		opts   attesttest.CertOptions
		policy attest.Policy
		want   attest.Reason
	}{
		{"valid, Gramine RA-TLS certificate", "OK", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, attest.Policy{}, ""},
		{"valid, interoperable RA-TLS certificate", "OK", sgxReporter(mrenclave, false), attesttest.CertOptions{}, attest.Policy{}, ""},
		{"wrong MRENCLAVE", "OK", sgxReporter(bytes.Repeat([]byte{1}, 32), false), attesttest.CertOptions{Gramine: true}, attest.Policy{}, attest.Measurement},
		{"Gramine quote bound to another key", "OK", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true, OtherKey: true}, attest.Policy{}, attest.KeyBinding},
		{"revoked platform", "REVOKED", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, attest.Policy{}, attest.Revoked},
		{"out-of-date TCB", "OUT_OF_DATE", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, attest.Policy{}, attest.TCB},
		{"hardening needed, allowed", "SW_HARDENING_NEEDED", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true},
			attest.Policy{AllowedStatuses: []string{"SW_HARDENING_NEEDED"}}, ""},
		{"bad quote signature", "INVALID_SIGNATURE", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, attest.Policy{}, attest.Signature},
		{"debug enclave", "OK", sgxReporter(mrenclave, true), attesttest.CertOptions{Gramine: true}, attest.Policy{}, attest.PolicyField},
		{"wrong MRSIGNER", "OK", sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true},
			attest.Policy{MrSigner: hex.EncodeToString(bytes.Repeat([]byte{2}, 32))}, attest.PolicyField},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			qvs.SetStatus(tc.status)
			tc.opts.Tag = attest.TagIntelQuote
			n, err := v.Node(attest.Spec{Type: attest.SGX, Measurements: []string{hex.EncodeToString(mrenclave)}, Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}
			cert := attesttest.Certificate(t, tc.report, tc.opts, nil)
			wantReason(t, n.Verify(cert.Leaf, nil), tc.want)
		})
	}
}

// TestSGXWithoutVerifier: a gateway without an SGX verifier starts, and
// only its SGX nodes fail, with a reason that says what to configure.
func TestSGXWithoutVerifier(t *testing.T) {
	set := attest.Settings{}
	set.Default()
	v, err := attest.New(set, attest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := v.Node(attest.Spec{Type: attest.SGX, Measurements: []string{hex.EncodeToString(mrenclave)}})
	if err != nil {
		t.Fatal(err)
	}
	cert := attesttest.Certificate(t, sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, nil)
	err = n.Verify(cert.Leaf, nil)
	wantReason(t, err, attest.Unsupported)
	if !bytes.Contains([]byte(err.Error()), []byte("attestation.sgx_verifier.url")) {
		t.Fatalf("the error does not name the key to set: %v", err)
	}
}

// TestVerificationCache: a verified certificate is not verified again
// within cache_ttl, a changed certificate is.
func TestVerificationCache(t *testing.T) {
	qvs := attesttest.NewQVS(t)
	set := attest.Settings{SGXVerifier: attest.SGXVerifier{URL: qvs.URL, SigningCertificate: qvs.CertFile}}
	set.Default()
	v, _ := attest.New(set, attest.Options{})
	n, _ := v.Node(attest.Spec{Type: attest.SGX, Measurements: []string{hex.EncodeToString(mrenclave)}})
	cert := attesttest.Certificate(t, sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, nil)
	for range 3 {
		wantReason(t, n.Verify(cert.Leaf, nil), "")
	}
	if got := qvs.Requests.Load(); got != 1 {
		t.Fatalf("the verifier was asked %d times for one certificate, want 1", got)
	}
	// Another policy on the same certificate is its own verification.
	n2, _ := v.Node(attest.Spec{Type: attest.SGX, Measurements: []string{hex.EncodeToString(mrenclave)}, Policy: attest.Policy{MinimumISVSVN: 0, AllowDebug: true}})
	wantReason(t, n2.Verify(cert.Leaf, nil), "")
	cert2 := attesttest.Certificate(t, sgxReporter(mrenclave, false), attesttest.CertOptions{Gramine: true}, nil)
	wantReason(t, n.Verify(cert2.Leaf, nil), "")
	if got := qvs.Requests.Load(); got != 3 {
		t.Fatalf("the verifier was asked %d times, want 3 (one per certificate and policy)", got)
	}
}
