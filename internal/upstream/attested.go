package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// AttestedTransport returns the net/http transport of an attested node:
// each connection is dialled directly (no HTTP(S)_PROXY, so the TLS
// session ends at the node) and its handshake runs spec.Attest's check
// with a configuration of its own (a fresh nonce when the node takes one).
// A node that fails attestation gets no byte of a call; a changed
// certificate is checked on the next connection. Package ws dials the
// node's WebSocket with the same transport, without http2 (an upgrade
// needs HTTP/1.1).
func AttestedTransport(spec Spec, http2 bool) *http.Transport {
	dialTimeout := dialTimeoutOf(spec)
	h2 := http2
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	att := spec.Attest
	return &http.Transport{
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cfg := att.ClientConfig()
			if h2 {
				cfg.NextProtos = []string{"h2", "http/1.1"}
			}
			c := tls.Client(raw, cfg)
			// Verification may fetch collateral: the handshake gets the
			// dial's context, not a shorter handshake timeout.
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		},
		// TLSClientConfig is used only if net/http ever bypasses
		// DialTLSContext: it verifies the same way.
		TLSClientConfig:     att.ClientConfig(),
		MaxIdleConnsPerHost: idleConns(spec),
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  !spec.Gzip,
		ForceAttemptHTTP2:   h2,
		WriteBufferSize:     32 << 10,
		ReadBufferSize:      32 << 10,
	}
}
