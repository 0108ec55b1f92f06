//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/evmgate/evmgate/internal/devnet"
)

// minedNode starts a one-node go-ethereum devnet, stopped when the test
// ends, and mines its first block.
func minedNode(ctx context.Context, t *testing.T) *devnet.Node {
	t.Helper()
	net, err := devnet.Start(ctx, devnet.Config{Nodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	if _, err := net.Mine(ctx); err != nil {
		t.Fatal(err)
	}
	return net.Nodes()[0]
}

// relay starts a server on 127.0.0.1 that passes each request on to
// nodeURL, after showing it to seen with its body read whole.
func relay(t *testing.T, nodeURL string, seen func(r *http.Request, body []byte)) *httptest.Server {
	t.Helper()
	target, err := url.Parse(nodeURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}
