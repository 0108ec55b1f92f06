// Package nodeurl names a node by its URL without what may be a secret in
// it: the one name logs, errors, metrics and /status show for a node
// without a configured name.
package nodeurl

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Redact returns a URL as scheme://host[:port] followed by a path that
// hides anything that may be an API key: credentials, the query and the
// fragment are dropped, and path segments longer than 16 characters are
// cut to their first 4. A URL that does not parse, or has no host, is
// "invalid-url".
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid-url"
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, s := range segs {
		if len(s) > 16 {
			cut := 4
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			segs[i] = s[:cut] + "…"
		}
	}
	out := u.Scheme + "://" + u.Host
	if path := strings.Join(segs, "/"); path != "" {
		out += "/" + path
	}
	return out
}

// Cause returns err without a url.Error around it: a url.Error quotes the
// whole URL, which may hold credentials or an API key; its cause does not.
func Cause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
