package ws

import (
	"strings"
	"testing"
)

// Origin patterns are checked when the file is: a malformed one would
// otherwise refuse every browser at run time, with nothing in the log.
func TestValidateOriginPatterns(t *testing.T) {
	for _, c := range []struct {
		origins []string
		want    string // "" when valid
	}{
		{[]string{"app.example", "*.partner.example", "https://app.example"}, ""},
		{[]string{"[app.example"}, `allowed_origins[0]: "[app.example" is not a pattern`},
		{[]string{"ok.example", " "}, "allowed_origins[1]: empty origin pattern"},
	} {
		var cfg Config
		cfg.Default()
		cfg.AllowedOrigins = c.origins
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.origins, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: %v, want it to say %q", c.origins, err, c.want)
		}
	}
}

// The byte bound of a connection's queue has a floor: below it a
// connection could hardly hold one answer.
func TestValidateSubscriberBufferBytes(t *testing.T) {
	var cfg Config
	cfg.Default()
	if cfg.SubscriberBufferBytes != DefaultSubscriberBufferBytes {
		t.Fatalf("default %d", cfg.SubscriberBufferBytes)
	}
	cfg.SubscriberBufferBytes = 1000
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "websocket.subscriber_buffer_bytes: 1000 is too small") {
		t.Fatalf("1000 bytes: %v", err)
	}
}
