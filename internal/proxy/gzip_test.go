package proxy

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// TestAcceptsGzip: Accept-Encoding allows gzip when gzip (or x-gzip) is
// listed with a q above 0, or when it is not listed and * is; q=0, a
// malformed q and codings other than gzip do not.
func TestAcceptsGzip(t *testing.T) {
	for _, tt := range []struct {
		values []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"GZip"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"gzip, deflate, br"}, true},
		{[]string{"br;q=1.0, gzip;q=0.8, *;q=0.1"}, true},
		{[]string{"deflate, br"}, false},
		{[]string{"identity"}, false},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip ; q=0.000"}, false},
		{[]string{"gzip;Q=0"}, false},
		{[]string{"gzip;q=0.001"}, true},
		{[]string{"gzip;q=abc"}, false},
		{[]string{"gzip;level=1"}, true},
		{[]string{"gzips"}, false},
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"*, gzip;q=0"}, false},
		{[]string{"gzip;q=0, *"}, false},
		{[]string{"gzip, *;q=0"}, true},
		{[]string{"deflate", "gzip"}, true},
		{[]string{"gzip", "gzip;q=0"}, false},
	} {
		if got := acceptsGzip(tt.values); got != tt.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tt.values, got, tt.want)
		}
		var h fasthttp.RequestHeader
		for _, v := range tt.values {
			h.Add("Accept-Encoding", v)
		}
		if got := acceptsGzipFast(&h); got != tt.want {
			t.Errorf("acceptsGzipFast(%q) = %v, want %v", tt.values, got, tt.want)
		}
	}
}
