package proxy_test

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkForwardFast is BenchmarkForward through ServeFast, the fast
// server's path that the load benchmark's calls take: the request and
// response are fasthttp's, reused, so allocs/op is the gateway's forward
// path plus Go's HTTP client to the node.
func BenchmarkForwardFast(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"blockNumber", blockNumberBody},
		{"batch10", batch10Body},
		{"block100k", blockBody},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newBenchHandler(b, []string{startReplayNode(b), startReplayNode(b)})
			ctx := newFastRequest(bc.body, "")
			h.ServeFast(ctx)
			size := len(ctx.Response.Body())
			if ctx.Response.StatusCode() != 200 || size == 0 {
				b.Fatalf("answer %d %.200q", ctx.Response.StatusCode(), ctx.Response.Body())
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				ctx.Response.Reset()
				h.ServeFast(ctx)
			}
			b.StopTimer()
			if got := len(ctx.Response.Body()); ctx.Response.StatusCode() != 200 || got != size {
				b.Fatalf("last answer %d of %d bytes, want 200 of %d", ctx.Response.StatusCode(), got, size)
			}
		})
	}
}

// newFastRequest is a POST of body to /bench as fasthttp's server reads
// it, with an Accept-Encoding header when acceptEncoding is not "".
func newFastRequest(body []byte, acceptEncoding string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/bench")
	req.Header.SetContentType("application/json")
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	req.SetBody(body)
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	return ctx
}
