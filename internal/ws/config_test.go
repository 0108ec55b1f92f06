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
