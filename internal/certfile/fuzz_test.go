package certfile

import (
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// FuzzFiles: whatever the certificate, key and CA files hold, reading them
// never panics, and a refusal names one of the section's keys.
func FuzzFiles(f *testing.F) {
	ca := certtest.NewCA(f, "fuzz ca")
	p := ca.Server(f, "fuzz")
	f.Add(p.CertPEM, p.KeyPEM, ca.CertPEM)
	f.Add(p.KeyPEM, p.CertPEM, []byte("x"))
	f.Add(append(p.CertPEM, ca.CertPEM...), p.KeyPEM, []byte{})
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN EC PRIVATE KEY-----\n-----END EC PRIVATE KEY-----\n"), ca.CertPEM)
	cfg := Config{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}
	f.Fuzz(func(t *testing.T, cert, key, cas []byte) {
		files := map[string][]byte{cfg.CertFile: cert, cfg.KeyFile: key, cfg.ClientCAFile: cas}
		l, err := parse(cfg, "admin.tls", func(p string) ([]byte, error) { return files[p], nil })
		if err != nil {
			if !strings.HasPrefix(err.Error(), "admin.tls.") {
				t.Fatalf("error without its key: %v", err)
			}
			return
		}
		if l.cert == nil || l.cert.Leaf == nil || l.clientCA == nil {
			t.Fatalf("accepted files without a certificate or CA: %+v", l)
		}
	})
}
