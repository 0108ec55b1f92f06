package attesttest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/attest"
)

// Reporter returns a TEE report or quote whose report data is reportData.
type Reporter func(t testing.TB, reportData [64]byte) []byte

// CertOptions shape an attested certificate, including the faults a bad
// node presents.
type CertOptions struct {
	// Tag is attest.TagSEVSNP or attest.TagIntelQuote.
	Tag uint64
	// Gramine uses Gramine's RA-TLS format: the raw quote under
	// attest.OIDGramineQuote, report data = SHA-256 of the public key.
	Gramine bool
	// Endorsements is the SEV-SNP certificate table to include.
	Endorsements []byte
	// NotBefore and NotAfter default to an hour ago and a day ahead.
	NotBefore, NotAfter time.Time
	// OtherKey binds the report to another key than the certificate's.
	OtherKey bool
	// Nonce replaces the nonce the client sent (e.g. a stale one).
	Nonce []byte
	// Plain leaves the evidence out: an unattested certificate.
	Plain bool
}

// Certificate makes a self-signed certificate for 127.0.0.1 carrying the
// evidence report builds, bound to its key and to nonce.
func Certificate(t testing.TB, report Reporter, o CertOptions, nonce []byte) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "attested node"},
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if !o.Plain {
		tmpl.ExtraExtensions = evidenceExtensions(t, key.Public(), report, o, nonce)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func evidenceExtensions(t testing.TB, pub crypto.PublicKey, report Reporter, o CertOptions, nonce []byte) []pkix.Extension {
	t.Helper()
	bound := pub
	if o.OtherKey {
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		bound = other.Public()
	}
	spki, err := x509.MarshalPKIXPublicKey(bound)
	if err != nil {
		t.Fatal(err)
	}
	if o.Nonce != nil {
		nonce = o.Nonce
	}
	if o.Gramine {
		var rd [64]byte
		sum := sha256.Sum256(spki)
		copy(rd[:], sum[:])
		return []pkix.Extension{{Id: attest.OIDGramineQuote, Value: report(t, rd)}}
	}
	claims, rd, err := attest.Claims(spki, nonce)
	if err != nil {
		t.Fatal(err)
	}
	val, err := attest.EvidenceExtensionValue(o.Tag, report(t, rd), claims)
	if err != nil {
		t.Fatal(err)
	}
	exts := []pkix.Extension{{Id: attest.OIDEvidence, Value: val}}
	if o.Endorsements != nil {
		e, err := attest.EndorsementsExtensionValue(o.Endorsements)
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, pkix.Extension{Id: attest.OIDEndorsements, Value: e})
	}
	return exts
}

// Server is an HTTPS server on 127.0.0.1 whose certificate is made per
// handshake (so it can answer the client's nonce) and can be changed.
type Server struct {
	URL  string // https://127.0.0.1:port
	Addr string
	srv  *http.Server
	ln   net.Listener
	wg   sync.WaitGroup
	make atomic.Pointer[func(nonce []byte) tls.Certificate]
	// Handshakes counts TLS handshakes the server completed.
	Handshakes atomic.Int64

	mu    sync.Mutex // mu protects conns
	conns map[net.Conn]struct{}
}

// NewServer serves h with certificates from mk.
func NewServer(t testing.TB, h http.Handler, mk func(nonce []byte) tls.Certificate) *Server {
	t.Helper()
	s := &Server{conns: map[net.Conn]struct{}{}}
	s.SetCertificates(mk)
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c := (*s.make.Load())(attest.NonceFromServerName(hello.ServerName))
		return &c, nil
	}, VerifyConnection: func(tls.ConnectionState) error { s.Handshakes.Add(1); return nil }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln, s.Addr, s.URL = ln, ln.Addr().String(), "https://"+ln.Addr().String()
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(c net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch st {
			case http.StateNew:
				s.conns[c] = struct{}{}
			case http.StateClosed, http.StateHijacked:
				delete(s.conns, c)
			}
		}}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = s.srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(s.Close)
	return s
}

// SetCertificates changes the certificates of later handshakes.
func (s *Server) SetCertificates(mk func(nonce []byte) tls.Certificate) { s.make.Store(&mk) }

// Restart changes the certificates and closes every open connection, as a
// node restarted with a new certificate does.
func (s *Server) Restart(mk func(nonce []byte) tls.Certificate) {
	s.SetCertificates(mk)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the server and waits for it.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.wg.Wait()
}
