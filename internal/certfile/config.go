package certfile

import (
	"errors"
	"fmt"
)

// Config is a listener's tls: section. Empty: the listener speaks plain HTTP.
type Config struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the leaf certificate.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile, when set, makes the listener ask every client for a
	// certificate signed by one of the PEM CA certificates it holds (mutual
	// TLS); a client without one is refused during the handshake.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Enabled reports whether the listener serves TLS.
func (c Config) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// Validate checks the section; prefix is its key path ("tls", "admin.tls").
// clientCerts says whether this listener may ask for client certificates.
// The files themselves are read by New.
func (c Config) Validate(prefix string, clientCerts bool) error {
	var errs []error
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		errs = append(errs, fmt.Errorf("%s.key_file: missing: give the private key of %s.cert_file, or remove %s", prefix, prefix, prefix))
	case c.CertFile == "" && c.KeyFile != "":
		errs = append(errs, fmt.Errorf("%s.cert_file: missing: give the certificate of %s.key_file, or remove %s", prefix, prefix, prefix))
	}
	if c.ClientCAFile != "" {
		switch {
		case !clientCerts:
			errs = append(errs, fmt.Errorf("%s.client_ca_file: client certificates are asked for on the admin API only: remove it", prefix))
		case !c.Enabled():
			errs = append(errs, fmt.Errorf("%s.client_ca_file: needs %s.cert_file and %s.key_file: client certificates are checked over TLS only", prefix, prefix, prefix))
		}
	}
	return errors.Join(errs...)
}
