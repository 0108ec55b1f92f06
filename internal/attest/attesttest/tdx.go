package attesttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/testing/testdata"
	"google.golang.org/protobuf/proto"
)

// TDX is a test-only Intel PCK chain (root, platform CA, PCK) that signs
// TDX quotes. The quotes are go-tdx-guest's sample quote re-signed: its
// layout and PCK certificate extensions are real, its keys are not.
type TDX struct {
	Root     *x509.Certificate
	pckKey   *ecdsa.PrivateKey
	chainPEM []byte
	sample   *pb.QuoteV4
}

// NewTDX makes the chain.
func NewTDX(t testing.TB) *TDX {
	t.Helper()
	q, err := abi.QuoteToProto(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	sample := q.(*pb.QuoteV4)
	realChain := sample.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	block, _ := pem.Decode(realChain)
	realPCK, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	rootKey, caKey, pckKey := newP256(t), newP256(t), newP256(t)
	now := time.Now()
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: intelName("Intel SGX Root CA"),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER := create(t, root, root, rootKey, rootKey)
	rootCert, _ := x509.ParseCertificate(rootDER)
	ca := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: intelName("Intel SGX PCK Platform CA"),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour), SubjectKeyId: realPCK.AuthorityKeyId,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	caDER := create(t, ca, rootCert, caKey, rootKey)
	caCert, _ := x509.ParseCertificate(caDER)
	// The PCK keeps the real one's extensions (FMSPC, TCB, ...) that
	// go-tdx-guest reads.
	pck := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: intelName("Intel SGX PCK Certificate"),
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), ExtraExtensions: realPCK.Extensions}
	pckDER := create(t, pck, caCert, pckKey, caKey)
	var chain []byte
	for _, der := range [][]byte{pckDER, caDER, rootDER} {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return &TDX{Root: rootCert, pckKey: pckKey, chainPEM: chain, sample: sample}
}

// Roots returns the pool holding the test root, to trust instead of Intel's.
func (x *TDX) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(x.Root)
	return p
}

// Quote returns a signed TDX quote with reportData and mrtd, from a TD in
// debug mode when debug.
func (x *TDX) Quote(t testing.TB, reportData [64]byte, mrtd []byte, debug bool) []byte {
	t.Helper()
	q := proto.Clone(x.sample).(*pb.QuoteV4)
	body := q.GetTdQuoteBody()
	body.ReportData, body.MrTd = reportData[:], mrtd
	body.TdAttributes = make([]byte, 8)
	if debug {
		body.TdAttributes[0] = 1
	}
	attestKey := newP256(t)
	pub := append(pad32(attestKey.X), pad32(attestKey.Y)...)
	sd := q.GetSignedData()
	sd.EcdsaAttestationKey = pub
	qe := sd.GetCertificationData().GetQeReportCertificationData()
	sum := sha256.Sum256(append(append([]byte{}, pub...), qe.GetQeAuthData().GetData()...))
	qe.QeReport.ReportData = append(sum[:], make([]byte, 32)...)
	rawQE, err := abi.EnclaveReportToAbiBytes(qe.GetQeReport())
	if err != nil {
		t.Fatal(err)
	}
	qe.QeReportSignature = sign(t, x.pckKey, rawQE)
	chain := qe.GetPckCertificateChainData()
	delta := uint32(len(x.chainPEM)) - chain.GetSize()
	chain.PckCertChain, chain.Size = x.chainPEM, uint32(len(x.chainPEM))
	sd.CertificationData.Size += delta
	q.SignedDataSize += delta
	header, err := abi.HeaderToAbiBytes(q.GetHeader())
	if err != nil {
		t.Fatal(err)
	}
	rawBody, err := abi.TdQuoteBodyToAbiBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	sd.Signature = sign(t, attestKey, append(header, rawBody...))
	raw, err := abi.QuoteToAbiBytes(q)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newP256(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func intelName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"},
		Province: []string{"CA"}, Country: []string{"US"}}
}

func create(t testing.TB, tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// sign returns the raw r||s ECDSA-SHA256 signature quotes carry.
func sign(t testing.TB, key *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return append(pad32(r), pad32(s)...)
}

func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	return n.FillBytes(out)
}
