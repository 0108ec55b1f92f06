package nodeurl

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://10.0.0.5:8545", "http://10.0.0.5:8545"},
		{"http://10.0.0.5:8545/", "http://10.0.0.5:8545"},
		{"https://user:secret@rpc.example.net/eth", "https://rpc.example.net/eth"},
		{"https://lb.drpc.org/ogrpc?network=ethereum&dkey=SECRETKEY", "https://lb.drpc.org/ogrpc"},
		{"https://eth-mainnet.g.alchemy.com/v2/abcdefghijklmnopqrstuvwxyz012345", "https://eth-mainnet.g.alchemy.com/v2/abcd…"},
		{"https://x.quiknode.pro/0123456789abcdef0123/", "https://x.quiknode.pro/0123…"},
		{"https://node.example/short/0123456789abcdef", "https://node.example/short/0123456789abcdef"},
		{"https://node.example/ééééééééé", "https://node.example/éé…"},
		{"https://node.example/aééééééééé", "https://node.example/aé…"},
		{"http://[::1]:8545#frag", "http://[::1]:8545"},
		{"localhost:8545", "invalid-url"},
		{"://", "invalid-url"},
		{"", "invalid-url"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	secret := "https://u:pw@h.example/v3/0123456789abcdef0123456789abcdef?apikey=zzz"
	for _, leak := range []string{"pw", "0123456789abcdef0123456789abcdef", "zzz", "apikey"} {
		if strings.Contains(Redact(secret), leak) {
			t.Errorf("Redact(%q) = %q shows %q", secret, Redact(secret), leak)
		}
	}
}

func TestCauseDropsTheURL(t *testing.T) {
	_, err := http.Get("http://user:SECRET@127.0.0.1:1/?key=SECRET2")
	if err == nil {
		t.Fatal("a refused port answered")
	}
	if !strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("the url.Error no longer quotes the URL (%v): the test proves nothing", err)
	}
	if c := Cause(err); strings.Contains(c.Error(), "SECRET") {
		t.Errorf("Cause(%v) = %v: it still quotes the URL", err, c)
	}
	plain := errors.New("plain")
	if Cause(plain) != plain {
		t.Error("an error without a url.Error around it is changed")
	}
}

func TestSame(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"http://10.0.0.1:8545", "http://10.0.0.1:8545/", true},
		{"http://10.0.0.1:8545", "HTTP://10.0.0.1:8545", true},
		{"https://Rpc.Example.com/v2/KEY", "https://rpc.example.com/v2/KEY/", true},
		{"http://node", "http://node:80/", true},
		{"https://node:443", "https://node", true},
		{"http://node:8545", "https://node:8545", false},
		{"https://rpc.example.com/v2/KEY", "https://rpc.example.com/v2/key", false}, // a path's case is its own
		{"http://node:8545?_workers=2", "http://node:8545?_workers=4", false},
		{"http://a:1@node", "http://b:1@node", false},
		{"not a url", "not a url", true},
		{"not a url", "http://node", false},
	} {
		if got := Same(c.a, c.b); got != c.same {
			t.Errorf("Same(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
