package attesttest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
)

// SNP is a test-only AMD key chain (ARK, ASK, VCEK) that signs SEV-SNP
// reports.
type SNP struct {
	Signer *sevtest.AmdSigner
	line   string
}

// NewSNP makes the key chain.
func NewSNP(t testing.TB) *SNP {
	t.Helper()
	s, err := sevtest.DefaultTestOnlyCertChain(sevtest.GetProductName(), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("making the test AMD chain: %v", err)
	}
	return &SNP{Signer: s, line: sevtest.GetProductLine()}
}

// Roots returns the AMD roots to trust instead of AMD's own.
func (s *SNP) Roots() map[string][]*trust.AMDRootCerts {
	r := trust.AMDRootCertsProduct(s.line)
	r.ProductCerts = &trust.ProductCerts{Ark: s.Signer.Ark, Ask: s.Signer.Ask, Asvk: s.Signer.Asvk}
	return map[string][]*trust.AMDRootCerts{s.line: {r}}
}

// Report returns a signed raw report with reportData and measurement, from
// a guest whose debug policy bit is debug.
func (s *SNP) Report(t testing.TB, reportData [64]byte, measurement []byte, debug bool) []byte {
	t.Helper()
	tcb := uint64(s.Signer.TCB)
	r := &spb.Report{
		Version: 3, Cpuid1EaxFms: abi.MaskedCpuid1EaxFromSevProduct(sevtest.GetProduct(t)), Policy: abi.SnpPolicyToBytes(abi.SnpPolicy{SMT: true, Debug: debug}), SignatureAlgo: abi.SignEcdsaP384Sha384,
		FamilyId: make([]byte, 16), ImageId: make([]byte, 16), ReportData: reportData[:], Measurement: measurement,
		HostData: make([]byte, 32), IdKeyDigest: make([]byte, 48), AuthorKeyDigest: make([]byte, 48),
		ReportId: make([]byte, 32), ReportIdMa: make([]byte, 32), ChipId: s.Signer.HWID[:], Signature: make([]byte, 512),
		CurrentTcb: tcb, ReportedTcb: tcb, CommittedTcb: tcb, LaunchTcb: tcb,
	}
	raw, err := abi.ReportToAbiBytes(r)
	if err != nil {
		t.Fatalf("encoding the report: %v", err)
	}
	rr, ss, err := s.Signer.Sign(abi.SignedComponent(raw))
	if err != nil {
		t.Fatalf("signing the report: %v", err)
	}
	if err := abi.SetSignature(rr, ss, raw); err != nil {
		t.Fatalf("signing the report: %v", err)
	}
	return raw
}

// CertTable returns the extended report's certificate table (VCEK, ASK,
// ARK), for the endorsements extension.
func (s *SNP) CertTable(t testing.TB) []byte {
	t.Helper()
	b, err := s.Signer.CertTableBytes()
	if err != nil {
		t.Fatalf("certificate table: %v", err)
	}
	return b
}

// CRLURL is where the ASK says its CRL is.
func (s *SNP) CRLURL() string { return s.Signer.Ask.CRLDistributionPoints[0] }

// VCEKURL is where AMD's KDS serves the VCEK of the test chip.
func (s *SNP) VCEKURL() string {
	return kds.VCEKCertURL(s.line, s.Signer.HWID[:], s.Signer.TCB)
}

// CRL returns the ARK-signed CRL revoking the given serial numbers (none:
// an empty CRL), valid for a day.
func (s *SNP) CRL(t testing.TB, revoked ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, sn := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: time.Now().Add(-time.Hour)})
	}
	tmpl := &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries, SignatureAlgorithm: x509.SHA384WithRSAPSS,
		Issuer: pkix.Name{CommonName: s.Signer.Ark.Subject.CommonName},
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, s.Signer.Ark, s.Signer.Keys.Ark)
	if err != nil {
		t.Fatalf("making the CRL: %v", err)
	}
	return der
}

// WriteOfflineCollateral puts the documents an offline verifier needs to
// verify a report without endorsements: the VCEK and the ASK/ARK chain.
func (s *SNP) WriteOfflineCollateral(t testing.TB, dir string) {
	t.Helper()
	WriteCollateral(t, dir, s.VCEKURL(), s.Signer.Vcek.Raw)
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Signer.Ask.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Signer.Ark.Raw})...)
	WriteCollateral(t, dir, kds.ProductCertChainURL(abi.VcekReportSigner, s.line), chain)
}

// WriteCollateral puts a document where an offline verifier with
// collateral_dir dir looks for url.
func WriteCollateral(t testing.TB, dir, url string, body []byte) {
	t.Helper()
	p, err := attest.Path(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
}

// AttestationYAML returns a configuration's attestation: section that
// trusts this test chain instead of AMD's (amd_roots) and reads the CRL
// from a collateral directory, offline.
func (s *SNP) AttestationYAML(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	roots := filepath.Join(dir, "amd-roots.pem")
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Signer.Ask.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Signer.Ark.Raw})...)
	if err := os.WriteFile(roots, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	collateral := filepath.Join(dir, "collateral")
	WriteCollateral(t, collateral, s.CRLURL(), s.CRL(t))
	return fmt.Sprintf("attestation:\n  collateral_dir: %q\n  offline: true\n  amd_roots: %q\n", collateral, roots)
}

// Maker returns the certificate maker of a node whose reports carry
// measurement, with endorsements, answering the client's nonce.
func (s *SNP) Maker(t testing.TB, measurement []byte) func(nonce []byte) tls.Certificate {
	table := s.CertTable(t)
	return func(nonce []byte) tls.Certificate {
		return Certificate(t, func(t testing.TB, rd [64]byte) []byte { return s.Report(t, rd, measurement, false) },
			CertOptions{Tag: attest.TagSEVSNP, Endorsements: table}, nonce)
	}
}
