package certfile

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

func TestNewErrorsNameTheKeyAndFix(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "test ca")
	certFile, keyFile := ca.Server(t, "one").Write(t, dir, "one")
	_, otherKey := ca.Server(t, "two").Write(t, dir, "two")
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"missing cert", Config{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: keyFile}, []string{"tls.cert_file", "does not exist", "check the path"}},
		{"missing key", Config{CertFile: certFile, KeyFile: filepath.Join(dir, "nope.key")}, []string{"tls.key_file", "does not exist"}},
		{"bad cert pem", Config{CertFile: junk, KeyFile: keyFile}, []string{"tls.cert_file", "no PEM certificate", "BEGIN CERTIFICATE"}},
		{"bad key pem", Config{CertFile: certFile, KeyFile: junk}, []string{"tls.key_file", "no PEM private key"}},
		{"mismatch", Config{CertFile: certFile, KeyFile: otherKey}, []string{"tls.key_file", "must be the private key of the first certificate"}},
		{"bad ca", Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: junk}, []string{"tls.client_ca_file", "no PEM CA certificate"}},
	}
	for _, c := range cases {
		_, err := New(c.cfg, "tls", slog.New(slog.DiscardHandler))
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", c.name, err, w)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		cfg    Config
		client bool
		want   string
	}{
		{Config{CertFile: "a"}, false, "tls.key_file: missing"},
		{Config{KeyFile: "a"}, false, "tls.cert_file: missing"},
		{Config{CertFile: "a", KeyFile: "b", ClientCAFile: "c"}, false, "admin API only"},
		{Config{ClientCAFile: "c"}, true, "over TLS only"},
	} {
		err := c.cfg.Validate("tls", c.client)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := (Config{CertFile: "a", KeyFile: "b", ClientCAFile: "c"}).Validate("admin.tls", true); err != nil {
		t.Error(err)
	}
}

// serveTLS accepts handshakes on 127.0.0.1 until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
				_, _ = c.Write([]byte("x"))
			}()
		}
	}()
	return ln.Addr().String()
}

// handshake returns the common name of the server's certificate.
func handshake(addr string, cfg *tls.Config) (string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); err != nil {
		return "", err
	}
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
}

func TestWatchServesTheNewCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "test ca")
	certFile, keyFile := ca.Server(t, "first").Write(t, dir, "srv")
	s, err := New(Config{CertFile: certFile, KeyFile: keyFile}, "tls", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := serveTLS(t, s.ServerConfig(nil))
	client := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	if cn, err := handshake(addr, client); err != nil || cn != "first" {
		t.Fatalf("first handshake: %q %v", cn, err)
	}
	ca.Server(t, "second").Write(t, dir, "srv")
	waitFor(t, func() bool { return s.Loads() == 2 && s.cur.Load().cert.Leaf.Subject.CommonName == "second" })
	if cn, err := handshake(addr, client); err != nil || cn != "second" {
		t.Fatalf("after the change: %q %v", cn, err)
	}
	// A broken file keeps the certificate in force.
	certtest.WriteFile(t, certFile, []byte("garbage"))
	if _, err := s.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if cn, err := handshake(addr, client); err != nil || cn != "second" {
		t.Fatalf("after a broken file: %q %v", cn, err)
	}
}

func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "server ca")
	clients := certtest.NewCA(t, "client ca")
	certFile, keyFile := ca.Server(t, "admin").Write(t, dir, "srv")
	caFile := filepath.Join(dir, "clients.pem")
	certtest.WriteFile(t, caFile, clients.CertPEM)
	s, err := New(Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile}, "admin.tls", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, s.ServerConfig(nil))
	base := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
	if _, err := handshake(addr, base); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	stranger := certtest.NewCA(t, "other ca").Client(t, "mallory")
	if _, err := handshake(addr, withCert(t, base, stranger)); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
	if _, err := handshake(addr, withCert(t, base, clients.Client(t, "ops"))); err != nil {
		t.Fatalf("a client with the right certificate: %v", err)
	}
}

func withCert(t *testing.T, base *tls.Config, p certtest.Pair) *tls.Config {
	t.Helper()
	pair, err := tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := base.Clone()
	c.Certificates = []tls.Certificate{pair}
	return c
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatchSecretVolumeSwap: a Kubernetes Secret volume (kubernetes.io/tls,
// as cert-manager renews it) holds tls.crt -> ..data/tls.crt, and an update
// writes a new timestamped directory, points ..data_tmp at it and renames
// ..data_tmp over ..data; the files themselves never change. The watched
// directory sees the rename and the new certificate is served.
func TestWatchSecretVolumeSwap(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "test ca")
	version := func(name string, p certtest.Pair) {
		sub := filepath.Join(dir, name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, data := range map[string][]byte{"tls.crt": p.CertPEM, "tls.key": p.KeyPEM, "ca.crt": ca.CertPEM} {
			if err := os.WriteFile(filepath.Join(sub, file), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_12_07_01_00_00.1", ca.Server(t, "first"))
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if err := os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"), ClientCAFile: filepath.Join(dir, "ca.crt")}
	s, err := New(cfg, "admin.tls", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	version("..2026_12_07_02_00_00.2", ca.Server(t, "renewed"))
	if err := os.RemoveAll(filepath.Join(dir, "..2026_12_07_01_00_00.1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return s.cur.Load().cert.Leaf.Subject.CommonName == "renewed" })
	if s.Loads() != 2 {
		t.Fatalf("loads %d after the swap, want 2", s.Loads())
	}
}

// logLines collects a logger's output, written from any goroutine.
type logLines struct {
	mu sync.Mutex // mu protects b
	b  bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count is how many lines hold msg="<msg>".
func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), "msg=\""+msg+"\"")
}

// TestWatchOnlyTheFilesAndOnlyChanges: a log file written next to the
// certificate, as when the gateway's output goes to that directory, reads
// nothing; the same bytes written again are read and change nothing; a new
// certificate is put in force and logged once.
func TestWatchOnlyTheFilesAndOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "test ca")
	first := ca.Server(t, "first")
	certFile, keyFile := first.Write(t, dir, "srv")
	logged := &logLines{}
	log := slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Config{CertFile: certFile, KeyFile: keyFile}, "tls", log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// No event to wait for: the log is written for several quiet periods,
	// each of which would end in a reading if it counted.
	out, err := os.Create(filepath.Join(dir, "gw.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for i := range 20 {
		if _, err := fmt.Fprintf(out, "line %d\n", i); err != nil {
			t.Fatal(err)
		}
		time.Sleep(debounce / 4)
	}
	time.Sleep(3 * debounce)
	if n := logged.count("certificate reloaded") + logged.count("certificate files unchanged"); n != 0 {
		t.Fatalf("%d readings after writes to another file in the directory, want 0:\n%s", n, logged)
	}

	certtest.WriteFile(t, certFile, first.CertPEM)
	waitFor(t, func() bool {
		return logged.count("certificate files unchanged")+logged.count("certificate reloaded") > 0
	})
	if n := logged.count("certificate reloaded"); n != 0 {
		t.Fatalf("the same bytes written again logged %d reloads, want 0", n)
	}

	ca.Server(t, "second").Write(t, dir, "srv")
	waitFor(t, func() bool { return logged.count("certificate reloaded") > 0 })
	if cn := s.cur.Load().cert.Leaf.Subject.CommonName; cn != "second" {
		t.Fatalf("serving %q after the reload, want second", cn)
	}
	// The key and the certificate may land in two quiet periods; the
	// second reading finds nothing new.
	time.Sleep(3 * debounce)
	if n := logged.count("certificate reloaded"); n != 1 {
		t.Fatalf("%d reloads logged for one new certificate, want 1:\n%s", n, logged)
	}
}
