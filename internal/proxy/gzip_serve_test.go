package proxy_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/proxy"
	"github.com/klauspost/compress/gzip"
)

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not gzip: %v (%.40q)", err, b)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gzip stream: %v", err)
	}
	return out
}

// compressing sets response_compression on h.
func compressing(h *proxy.Handler, minBytes int) {
	h.SetOptions(proxy.Options{MaxBodyBytes: 8 << 20, MaxBatchSize: 1000, RequestTimeout: 30e9, Compress: true, CompressMinBytes: minBytes})
}

// TestFastGzip: on the fast server, a 100 kB answer to a client that
// accepts gzip is compressed whole, with Content-Encoding and Vary, and
// decodes to the answer a client without Accept-Encoding gets; a client
// that refuses gzip, a short answer, and compression off get it as it is.
func TestFastGzip(t *testing.T) {
	h := newBenchHandler(t, []string{startReplayNode(t)})
	plain := newFastRequest(blockBody, "")
	h.ServeFast(plain)
	want := plain.Response.Body()
	if len(want) < 90_000 || len(plain.Response.Header.ContentEncoding()) != 0 {
		t.Fatalf("answer without compression: %d bytes, Content-Encoding %q", len(want), plain.Response.Header.ContentEncoding())
	}
	compressing(h, 1024)
	ctx := newFastRequest(blockBody, "deflate, gzip")
	h.ServeFast(ctx)
	rh := &ctx.Response.Header
	if string(rh.ContentEncoding()) != "gzip" || string(rh.Peek("Vary")) != "Accept-Encoding" || ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d, Content-Encoding %q, Vary %q", ctx.Response.StatusCode(), rh.ContentEncoding(), rh.Peek("Vary"))
	}
	if got := gunzip(t, ctx.Response.Body()); !bytes.Equal(got, want) {
		t.Fatalf("decoded answer differs: %d bytes, want %d", len(got), len(want))
	}
	if n := len(ctx.Response.Body()); n*4 > len(want) {
		t.Errorf("compressed to %d of %d bytes", n, len(want))
	}
	for _, tt := range []struct {
		name, accept string
		body         []byte
		min          int
	}{
		{"gzip;q=0", "gzip;q=0, identity", blockBody, 1024},
		{"no header, compression on", "", blockBody, 1024},
		{"short answer", "gzip", blockNumberBody, 1024},
		{"over min_bytes", "gzip", blockBody, len(want) + 1},
	} {
		compressing(h, tt.min)
		ctx := newFastRequest(tt.body, tt.accept)
		h.ServeFast(ctx)
		if ce := ctx.Response.Header.ContentEncoding(); len(ce) != 0 || bytes.HasPrefix(ctx.Response.Body(), []byte{0x1f, 0x8b}) {
			t.Errorf("%s: compressed (Content-Encoding %q)", tt.name, ce)
		}
	}
	h.SetOptions(proxy.Options{MaxBodyBytes: 8 << 20, MaxBatchSize: 1000, RequestTimeout: 30e9})
	ctx = newFastRequest(blockBody, "gzip")
	h.ServeFast(ctx)
	if !bytes.Equal(ctx.Response.Body(), want) {
		t.Error("compression off: the answer was changed")
	}
}

// TestNetHTTPGzip: Compress, net/http's side, compresses a held answer
// whole with its compressed length, and streams a longer one compressed
// and chunked; both decode to the node's answer.
func TestNetHTTPGzip(t *testing.T) {
	big, err := fakenode.Start(fakenode.Options{Name: "big", ChainID: 1, Head: 1000, BigBlock: 3 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(big.Close)
	for _, tt := range []struct {
		name     string
		node     string
		held     bool
		minBytes int
	}{
		{"100 kB held", startReplayNode(t), true, 1024},
		{"3 MiB streamed", big.URL(), false, 1024},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newBenchHandler(t, []string{tt.node})
			serve := func(accept string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/bench", bytes.NewReader(blockBody))
				if accept != "" {
					req.Header.Set("Accept-Encoding", accept)
				}
				w := httptest.NewRecorder()
				h.Compress(h).ServeHTTP(w, req)
				return w
			}
			compressing(h, tt.minBytes)
			plain := serve("")
			want := plain.Body.Bytes()
			if plain.Code != 200 || plain.Header().Get("Content-Encoding") != "" || len(want) < 90_000 {
				t.Fatalf("without Accept-Encoding: %d, Content-Encoding %q, %d bytes", plain.Code, plain.Header().Get("Content-Encoding"), len(want))
			}
			w := serve("gzip")
			hdr := w.Header()
			if w.Code != 200 || hdr.Get("Content-Encoding") != "gzip" || hdr.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("status %d, Content-Encoding %q, Vary %q", w.Code, hdr.Get("Content-Encoding"), hdr.Get("Vary"))
			}
			if tt.held && hdr.Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q, body %d bytes", hdr.Get("Content-Length"), w.Body.Len())
			}
			if !tt.held && hdr.Get("Content-Length") != "" {
				t.Errorf("streamed answer has Content-Length %q", hdr.Get("Content-Length"))
			}
			if got := gunzip(t, w.Body.Bytes()); !bytes.Equal(got, want) {
				t.Fatalf("decoded answer differs: %d bytes, want %d", len(got), len(want))
			}
			if w := serve("*;q=0"); w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), want) {
				t.Errorf("*;q=0: Content-Encoding %q", w.Header().Get("Content-Encoding"))
			}
		})
	}
}

// BenchmarkForwardFastGzip is BenchmarkForwardFast's 100 kB block for a
// client that accepts gzip: the answer is compressed whole.
func BenchmarkForwardFastGzip(b *testing.B) {
	h := newBenchHandler(b, []string{startReplayNode(b), startReplayNode(b)})
	compressing(h, 1024)
	ctx := newFastRequest(blockBody, "gzip")
	h.ServeFast(ctx)
	size := len(gunzip(b, ctx.Response.Body()))
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		ctx.Response.Reset()
		h.ServeFast(ctx)
	}
	b.StopTimer()
	if string(ctx.Response.Header.ContentEncoding()) != "gzip" {
		b.Fatal("the last answer is not compressed")
	}
	b.ReportMetric(float64(len(ctx.Response.Body())), "gzip-bytes")
}
