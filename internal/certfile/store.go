package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/filewatch"
)

// debounce is the quiet time after the last change to the files before
// they are read again: a certificate and its key are seldom
// written in one step.
const debounce = 200 * time.Millisecond

// Store holds a listener's certificate, read again when its files change.
type Store struct {
	cfg    Config
	prefix string
	log    *slog.Logger
	cur    atomic.Pointer[loaded]
	loads  atomic.Int64 // certificates put in force, the first included

	watcher *filewatch.Watcher // nil until Watch
}

// New reads the files of cfg (prefix is its key path, e.g. "admin.tls").
// It fails with an error naming the key and the fix when a file is missing,
// holds no PEM data, or the key does not match the certificate.
func New(cfg Config, prefix string, log *slog.Logger) (*Store, error) {
	l, err := read(cfg, prefix)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, prefix: prefix, log: log.With("component", "tls", "listener", prefix)}
	s.cur.Store(l)
	s.loads.Add(1)
	if time.Now().After(l.notAfter) {
		s.log.Warn("certificate has expired", "not_after", l.notAfter)
	}
	return s, nil
}

// Reload reads the files again and reports whether they changed since the
// certificate in force was read. On error the certificate in force stays.
func (s *Store) Reload() (changed bool, err error) {
	l, err := read(s.cfg, s.prefix)
	if err != nil {
		return false, err
	}
	if l.same(s.cur.Load()) {
		return false, nil
	}
	s.cur.Store(l)
	s.loads.Add(1)
	return true, nil
}

// Loads is how many times a certificate was put in force: once at New,
// then once per reload that found the files changed.
func (s *Store) Loads() int64 { return s.loads.Load() }

// NotAfter is the expiry of the certificate in force.
func (s *Store) NotAfter() time.Time { return s.cur.Load().notAfter }

// ServerConfig is the tls.Config of a listener: TLS 1.2 at least, the
// certificate in force at each handshake and, with client_ca_file, a
// verified client certificate required. nextProtos are the ALPN protocols
// offered (nil lets http.Server choose).
func (s *Store) ServerConfig(nextProtos []string) *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: nextProtos}
	base.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return s.cur.Load().cert, nil
	}
	if s.cfg.ClientCAFile == "" {
		return base
	}
	// The chain is checked against the CA pool in force at each handshake,
	// so a reloaded client_ca_file applies to the next client. (The pool is
	// not set as ClientCAs: http.Server keeps its own copy of the config.)
	base.ClientAuth = tls.RequireAnyClientCert
	base.VerifyConnection = func(cs tls.ConnectionState) error {
		return s.verifyClient(cs.PeerCertificates)
	}
	return base
}

// verifyClient checks a client's chain against the client CAs in force.
func (s *Store) verifyClient(chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return errors.New("no client certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots: s.cur.Load().clientCA, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("client certificate: %w", err)
	}
	return nil
}

// Watch reads the files again after they change, until Close: see
// filewatch for the events that count. A reading that finds the same bytes
// as the certificate in force changes nothing and logs at DEBUG only.
func (s *Store) Watch() error {
	var paths []string
	for _, f := range []string{s.cfg.CertFile, s.cfg.KeyFile, s.cfg.ClientCAFile} {
		if f != "" {
			paths = append(paths, f)
		}
	}
	w, err := filewatch.Start(filewatch.Options{
		Paths:    paths,
		Debounce: debounce,
		Changed:  s.changed,
		Failed:   func(err error) { s.log.Warn("watching certificate files", "err", err) },
	})
	if err != nil {
		return fmt.Errorf("%s: watching the certificate files for changes: %w", s.prefix, err)
	}
	s.watcher = w
	return nil
}

// changed reloads after the files changed on disk, and logs the outcome.
func (s *Store) changed() {
	changed, err := s.Reload()
	switch {
	case err != nil:
		s.log.Error("certificate not reloaded; the one in force stays", "err", err)
	case changed:
		s.log.Info("certificate reloaded", "not_after", s.NotAfter())
	default:
		s.log.Debug("certificate files unchanged")
	}
}

// Close stops watching and waits.
func (s *Store) Close() {
	if s.watcher != nil {
		s.watcher.Close()
	}
}
