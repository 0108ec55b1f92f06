package certfile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// debounce is the quiet time after the last change in a watched directory
// before the files are read again: a certificate and its key are seldom
// written in one step.
const debounce = 200 * time.Millisecond

// Store holds a listener's certificate, read again when its files change.
type Store struct {
	cfg    Config
	prefix string
	log    *slog.Logger
	cur    atomic.Pointer[loaded]
	reads  atomic.Int64 // successful readings, the first included

	watcher *fsnotify.Watcher // nil until Watch
	cancel  context.CancelFunc
	wg      sync.WaitGroup
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
	s.reads.Add(1)
	if time.Now().After(l.notAfter) {
		s.log.Warn("certificate has expired", "not_after", l.notAfter)
	}
	return s, nil
}

// Reload reads the files again. On error the certificate in force stays.
func (s *Store) Reload() error {
	l, err := read(s.cfg, s.prefix)
	if err != nil {
		return err
	}
	s.cur.Store(l)
	s.reads.Add(1)
	return nil
}

// Reads is how many times the files were read successfully.
func (s *Store) Reads() int64 { return s.reads.Load() }

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

// Watch reads the files again whenever their directories change, until
// Close. Watching directories, not files, also sees a file replaced by a
// rename and Kubernetes' symlink swap of mounted secrets.
func (s *Store) Watch() error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("%s: watching the certificate files: %w", s.prefix, err)
	}
	dirs := map[string]bool{}
	for _, f := range []string{s.cfg.CertFile, s.cfg.KeyFile, s.cfg.ClientCAFile} {
		if f != "" {
			dirs[filepath.Dir(f)] = true
		}
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			w.Close()
			return fmt.Errorf("%s: watching %s for certificate changes: %w", s.prefix, d, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.watcher, s.cancel = w, cancel
	s.wg.Go(func() { s.follow(ctx) })
	return nil
}

// follow reloads once the directory has been quiet for debounce.
func (s *Store) follow(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			timer.Reset(debounce)
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			s.log.Warn("watching certificate files", "err", err)
		case <-timer.C:
			if err := s.Reload(); err != nil {
				s.log.Error("certificate not reloaded; the one in force stays", "err", err)
				continue
			}
			s.log.Info("certificate reloaded", "not_after", s.NotAfter())
		}
	}
}

// Close stops watching and waits.
func (s *Store) Close() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.watcher.Close()
	s.wg.Wait()
}
