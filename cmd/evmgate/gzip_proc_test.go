//go:build !nodemo

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/certfile/certtest"
	"github.com/klauspost/compress/gzip"
)

// returnZeros is an eth_call whose contract (given by a state override)
// returns n zero bytes: an answer of 2n hex digits, as long as a test needs.
func returnZeros(n int) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"eth_call","params":[{"to":"0x00000000000000000000000000000000000000aa"},"latest",`+
		`{"0x00000000000000000000000000000000000000aa":{"code":"0x62%06x6000f3"}}]}`, n)
}

// rawAnswer is an answer as it came over the wire, not decoded.
type rawAnswer struct {
	status         int
	proto          string
	encoding, vary string // vary: every Vary line, joined with ", "
	contentLength  int64  // -1: none (chunked)
	body           []byte
}

// postRaw posts body with the Accept-Encoding given ("" sends none) from a
// client that decodes nothing.
func postRaw(t *testing.T, c *http.Client, url, acceptEncoding, body string) rawAnswer {
	t.Helper()
	return doRaw(t, c, http.MethodPost, url, acceptEncoding, body)
}

// getRaw is postRaw for a GET of url.
func getRaw(t *testing.T, c *http.Client, url, acceptEncoding string) rawAnswer {
	t.Helper()
	return doRaw(t, c, http.MethodGet, url, acceptEncoding, "")
}

// doRaw sends a request (a JSON body when body is not empty) and reads its
// answer as it came.
func doRaw(t *testing.T, c *http.Client, method, url, acceptEncoding, body string) rawAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer of %s: %v", url, err)
	}
	return rawAnswer{status: resp.StatusCode, proto: resp.Proto, encoding: resp.Header.Get("Content-Encoding"),
		vary: strings.Join(resp.Header.Values("Vary"), ", "), contentLength: resp.ContentLength, body: b}
}

// gunzipped decodes a gzip body, failing on anything but a whole stream.
func gunzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the body is not gzip: %v (%.40q)", err, b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("the gzip stream is cut: %v", err)
	}
	return out
}

// `evmgate -config FILE` in front of a real go-ethereum node gzips its
// answers for clients that accept gzip, on both servers of the JSON-RPC
// port (HTTP/1.1 on the fast server, HTTP/2 on net/http's): a held answer
// with its compressed length, one over 1 MiB compressed as it streams;
// every answer decodes to the node's own bytes, and a client without
// Accept-Encoding gets the node's bytes as they are. Every answer carries
// Vary: Accept-Encoding, once, while compression is on: compressed or not
// (short, refused gzip, no Accept-Encoding, the gateway's own errors, the
// net/http server's GET answers), so a cache keeps the forms apart; none
// does once a reload turns response_compression off, which is taken at
// once.
func TestResponseCompressionAsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	nd := minedNode(ctx, t)
	dir := t.TempDir()
	ca := certtest.NewCA(t, "evmgate gzip ca")
	certFile, keyFile := ca.Server(t, "gzip").Write(t, dir, "rpc")
	rpcPort, metricsPort := freePort(t), freePort(t)
	yaml := func(compression string) string {
		return listeners(rpcPort, metricsPort) + compression + fmt.Sprintf("tls:\n  cert_file: %q\n  key_file: %q\n", certFile, keyFile) +
			"networks:\n  - name: devnet\n    local_nodes:\n      - name: node0\n        rpc_endpoint: " + nd.HTTPURL() + "\n"
	}
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, yaml(""))
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	// Clients that decode nothing; h1 speaks HTTP/1.1 only, h2 HTTP/2.
	node := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	h1 := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	h2 := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true,
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}, ForceAttemptHTTP2: true}}
	url := "https://" + addr(rpcPort) + "/devnet"

	held, long := returnZeros(64<<10), returnZeros(1<<20) // answers of 128 KiB and 2 MiB
	want := postRaw(t, node, nd.HTTPURL(), "", held)
	wantLong := postRaw(t, node, nd.HTTPURL(), "", long)
	if want.status != 200 || len(want.body) < 128<<10 || want.encoding != "" || len(wantLong.body) < 2<<20 {
		t.Fatalf("the node's answers: %d, %d and %d bytes, Content-Encoding %q", want.status, len(want.body), len(wantLong.body), want.encoding)
	}

	for _, c := range []struct {
		name, proto string
		client      *http.Client
	}{{"fast server", "HTTP/1.1", h1}, {"net/http server", "HTTP/2.0", h2}} {
		a := postRaw(t, c.client, url, "gzip, deflate", held)
		if a.status != 200 || a.proto != c.proto || a.encoding != "gzip" || a.vary != "Accept-Encoding" {
			t.Fatalf("%s: %d %s, Content-Encoding %q, Vary %q, want 200 %s gzip", c.name, a.status, a.proto, a.encoding, a.vary, c.proto)
		}
		if a.contentLength != int64(len(a.body)) || len(a.body)*10 > len(want.body) {
			t.Errorf("%s: Content-Length %d, %d compressed bytes of %d", c.name, a.contentLength, len(a.body), len(want.body))
		}
		if got := gunzipped(t, a.body); !bytes.Equal(got, want.body) {
			t.Errorf("%s: the decoded answer differs from the node's: %.100s", c.name, got)
		}
		if a := postRaw(t, c.client, url, "", held); a.encoding != "" || a.vary != "Accept-Encoding" || !bytes.Equal(a.body, want.body) {
			t.Errorf("%s without Accept-Encoding: Content-Encoding %q, Vary %q, %d bytes, want the node's %d", c.name, a.encoding, a.vary, len(a.body), len(want.body))
		}
		if a := postRaw(t, c.client, url, "gzip;q=0, identity", held); a.encoding != "" || a.vary != "Accept-Encoding" || !bytes.Equal(a.body, want.body) {
			t.Errorf("%s with gzip;q=0: Content-Encoding %q, Vary %q", c.name, a.encoding, a.vary)
		}
		// Answers that are never compressed, each for its own reason.
		for _, u := range []struct{ what, acceptEncoding, body string }{
			{"under min_bytes", "gzip", chainIDCall},
			{"under min_bytes, no Accept-Encoding", "", chainIDCall},
			{"the gateway's parse error", "gzip", "{"},
			{"the gateway's parse error, no Accept-Encoding", "", "{"},
		} {
			if a := postRaw(t, c.client, url, u.acceptEncoding, u.body); a.encoding != "" || a.vary != "Accept-Encoding" || len(a.body) == 0 {
				t.Errorf("%s, %s: %d, Content-Encoding %q, Vary %q, want Vary: Accept-Encoding alone", c.name, u.what, a.status, a.encoding, a.vary)
			}
		}
		for _, ae := range []string{"gzip", ""} {
			if a := getRaw(t, c.client, url, ae); a.encoding != "" || a.vary != "Accept-Encoding" || len(a.body) == 0 {
				t.Errorf("%s, GET with Accept-Encoding %q: %d, Content-Encoding %q, Vary %q, want Vary: Accept-Encoding alone", c.name, ae, a.status, a.encoding, a.vary)
			}
		}
		a = postRaw(t, c.client, url, "gzip", long)
		// The fast server sends it chunked; net/http's may give the length
		// of a stream that ended within its buffer.
		if a.status != 200 || a.encoding != "gzip" || (c.client == h1 && a.contentLength != -1) {
			t.Fatalf("%s, 2 MiB: %d, Content-Encoding %q, Content-Length %d, want a compressed stream", c.name, a.status, a.encoding, a.contentLength)
		}
		if got := gunzipped(t, a.body); !bytes.Equal(got, wantLong.body) {
			t.Errorf("%s, 2 MiB: the decoded answer differs from the node's (%d bytes, want %d)", c.name, len(got), len(wantLong.body))
		}
		if a.vary != "Accept-Encoding" {
			t.Errorf("%s, 2 MiB: Vary %q", c.name, a.vary)
		}
		if a := postRaw(t, c.client, url, "", long); a.encoding != "" || a.vary != "Accept-Encoding" || !bytes.Equal(a.body, wantLong.body) {
			t.Errorf("%s, 2 MiB without Accept-Encoding: Content-Encoding %q, Vary %q, %d bytes", c.name, a.encoding, a.vary, len(a.body))
		}
	}

	writeFile(t, cfg, yaml("response_compression:\n  enabled: false\n"))
	p.signal(syscall.SIGHUP)
	p.waitCount(p.stderr, "configuration reloaded", 1, time.Minute)
	for _, c := range []*http.Client{h1, h2} {
		for _, body := range []string{held, long} {
			a := postRaw(t, c, url, "gzip", body)
			if a.encoding != "" || a.vary != "" || a.status != 200 || (body == held && !bytes.Equal(a.body, want.body)) || (body == long && !bytes.Equal(a.body, wantLong.body)) {
				t.Errorf("%s, %d bytes, compression off: %d, Content-Encoding %q, Vary %q", a.proto, len(a.body), a.status, a.encoding, a.vary)
			}
		}
		if a := postRaw(t, c, url, "", chainIDCall); a.vary != "" {
			t.Errorf("%s, a short answer, compression off: Vary %q", a.proto, a.vary)
		}
		if a := getRaw(t, c, url, "gzip"); a.vary != "" {
			t.Errorf("%s, GET, compression off: Vary %q", a.proto, a.vary)
		}
	}
	if strings.Contains(p.stderr.String(), "restart") {
		t.Errorf("response_compression named as needing a restart:\n%s", grepLines(p.stderr.String(), "restart"))
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}
