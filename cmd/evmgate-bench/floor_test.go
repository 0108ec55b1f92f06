package main

import (
	"strings"
	"testing"
)

func TestFramingWaitsForTheWholeMessage(t *testing.T) {
	for _, tc := range []struct{ msg, body string }{
		{"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello", "hello"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n", "hello"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ""},
	} {
		for cut := range len(tc.msg) {
			if end, _, err := framing([]byte(tc.msg[:cut])); end != 0 || err != nil {
				t.Fatalf("%q cut at %d: end %d, %v", tc.msg, cut, end, err)
			}
		}
		b := []byte(tc.msg + "HTTP/1.1") // the next message's start stays after end
		end, body, err := framing(b)
		if err != nil || end != len(tc.msg) || string(body) != tc.body {
			t.Fatalf("%q: end %d body %q, %v", tc.msg, end, body, err)
		}
	}
	for _, bad := range []string{
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	} {
		if _, _, err := framing([]byte(bad)); err == nil || !strings.Contains(err.Error(), "floor") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
