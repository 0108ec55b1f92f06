package attesttest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// SGXQuote returns an SGX ECDSA quote (version 3) of an enclave with
// mrenclave and reportData. Its signature part is filler: the quote
// verification service (QVS below) judges it.
func SGXQuote(reportData [64]byte, mrenclave []byte, debug bool) []byte {
	q := make([]byte, 48+384+4+64)
	binary.LittleEndian.PutUint16(q[0:], 3) // version
	binary.LittleEndian.PutUint16(q[2:], 2) // ECDSA P-256 attestation key
	body := q[48:]
	if debug {
		body[48] = 0x02
	}
	copy(body[64:], mrenclave)
	copy(body[320:], reportData[:])
	binary.LittleEndian.PutUint32(q[48+384:], 64)
	return q
}

// QVS is a quote verification service on 127.0.0.1 speaking Intel's QVS
// API, with a test signing key. It answers every quote with Status.
type QVS struct {
	URL string
	// CertFile is the PEM signing certificate, for sgx_verifier.signing_certificate.
	CertFile string
	// Status is the isvQuoteStatus of the next answers ("OK" at first).
	Status atomic.Pointer[string]
	// Requests counts verifications asked.
	Requests atomic.Int64
}

// NewQVS starts the service.
func NewQVS(t testing.TB) *QVS {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test QVS signing"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	q := &QVS{CertFile: filepath.Join(t.TempDir(), "qvs-signing.pem")}
	if err := os.WriteFile(q.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := "OK"
	q.Status.Store(&ok)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q.Requests.Add(1)
		var req struct {
			Quote string `json:"isvQuote"`
			Nonce string `json:"nonce"`
		}
		raw, _ := base64.StdEncoding.DecodeString(func() string { _ = json.NewDecoder(r.Body).Decode(&req); return req.Quote }())
		if r.URL.Path != "/attestation/sgx/dcap/v1/report" || len(raw) < 432 {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		body, _ := json.Marshal(map[string]any{"id": "1", "timestamp": time.Now().UTC().Format(time.RFC3339), "version": 5,
			"isvQuoteStatus": *q.Status.Load(), "isvQuoteBody": base64.StdEncoding.EncodeToString(raw[:432]), "nonce": req.Nonce})
		h := sha512.Sum384(body)
		sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA384, h[:])
		w.Header().Set("X-IASReport-Signature", base64.StdEncoding.EncodeToString(sig))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	q.URL = srv.URL
	return q
}

// SetStatus sets the status of the next answers.
func (q *QVS) SetStatus(s string) { q.Status.Store(&s) }
