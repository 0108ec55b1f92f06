package certfile

import (
	"crypto/tls"
	"log/slog"
	"net"
	"testing"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
)

// BenchmarkHandshake is one full handshake (client and server CPU, over
// net.Pipe) with a P-256 certificate from a Store, per TLS version.
func BenchmarkHandshake(b *testing.B) {
	dir := b.TempDir()
	ca := certtest.NewCA(b, "bench ca")
	certFile, keyFile := ca.Server(b, "bench").Write(b, dir, "srv")
	s, err := New(Config{CertFile: certFile, KeyFile: keyFile}, "tls", slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		b.Run(v.name, func(b *testing.B) {
			srvCfg := s.ServerConfig(nil)
			cliCfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: v.ver, MaxVersion: v.ver}
			for b.Loop() {
				c, sv := net.Pipe()
				done := make(chan error, 1)
				go func() { done <- tls.Server(sv, srvCfg).Handshake() }()
				if err := tls.Client(c, cliCfg).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				c.Close()
				sv.Close()
			}
		})
	}
}
