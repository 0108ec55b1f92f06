package certfile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// loaded is what one reading of the files gave: immutable once built.
type loaded struct {
	cert     *tls.Certificate
	clientCA *x509.CertPool // nil: no client certificates asked for
	notAfter time.Time
	files    [][]byte // the bytes read: certificate, key, client CAs if any
}

// same reports whether l was read from the same bytes as o.
func (l *loaded) same(o *loaded) bool {
	return slices.EqualFunc(l.files, o.files, bytes.Equal)
}

// Check reads and checks the files of cfg as New does, so a configuration
// check refuses what starting the listener would refuse, with the same
// message.
func Check(cfg Config, prefix string) error {
	_, err := read(cfg, prefix)
	return err
}

// read reads and checks the files of cfg. Every error names the key (under
// prefix) and the fix.
func read(cfg Config, prefix string) (*loaded, error) { return parse(cfg, prefix, os.ReadFile) }

// parse checks the files of cfg as readFile returns them.
func parse(cfg Config, prefix string, readFile func(string) ([]byte, error)) (*loaded, error) {
	certPEM, err := fileOf(readFile, cfg.CertFile, prefix+".cert_file")
	if err != nil {
		return nil, err
	}
	keyPEM, err := fileOf(readFile, cfg.KeyFile, prefix+".key_file")
	if err != nil {
		return nil, err
	}
	if !hasBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, fmt.Errorf("%s.cert_file: %s holds no PEM certificate: give a file starting with -----BEGIN CERTIFICATE-----", prefix, cfg.CertFile)
	}
	if !hasBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, fmt.Errorf("%s.key_file: %s holds no PEM private key: give a file starting with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)", prefix, cfg.KeyFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s.key_file: %w: the key in %s must be the private key of the first certificate in %s", prefix, err, cfg.KeyFile, cfg.CertFile)
	}
	l := &loaded{cert: &pair, notAfter: pair.Leaf.NotAfter, files: [][]byte{certPEM, keyPEM}}
	if cfg.ClientCAFile != "" {
		caPEM, err := fileOf(readFile, cfg.ClientCAFile, prefix+".client_ca_file")
		if err != nil {
			return nil, err
		}
		l.clientCA = x509.NewCertPool()
		if !l.clientCA.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("%s.client_ca_file: %s holds no PEM CA certificate: give the certificates that sign client certificates, each starting with -----BEGIN CERTIFICATE-----", prefix, cfg.ClientCAFile)
		}
		l.files = append(l.files, caPEM)
	}
	return l, nil
}

// ReadFile reads the file that the configuration key names; a missing or
// unreadable one gets the key and the fix in its error.
func ReadFile(key, path string) ([]byte, error) { return fileOf(os.ReadFile, path, key) }

func fileOf(readFile func(string) ([]byte, error), path, key string) ([]byte, error) {
	b, err := readFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: %s does not exist: check the path (relative paths start at the working directory)", key, path)
	case err != nil:
		return nil, fmt.Errorf("%s: %w: make the file readable by the gateway's user", key, err)
	}
	return b, nil
}

// hasBlock reports whether data holds a PEM block whose type passes ok.
func hasBlock(data []byte, ok func(string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if ok(b.Type) {
			return true
		}
	}
}
