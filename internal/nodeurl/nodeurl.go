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

// Same reports whether two node URLs name the same endpoint: equal once
// the scheme and host are lower-cased, a default port (80 for http, 443
// for https) is dropped and the path's trailing slashes are cut. A URL
// that does not parse is the same only as its exact text.
func Same(a, b string) bool { return a == b || Key(a) == Key(b) }

// Key is the form of a node URL that Same compares (the URL itself when it
// does not parse): a map keyed by it holds each endpoint once.
func Key(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	k := *u
	k.Scheme = strings.ToLower(u.Scheme)
	k.Host = strings.ToLower(u.Host)
	switch port := k.Port(); {
	case k.Scheme == "http" && port == "80", k.Scheme == "https" && port == "443":
		k.Host = strings.TrimSuffix(k.Host, ":"+port)
	}
	k.Path = strings.TrimRight(u.Path, "/")
	k.RawPath = ""
	k.Fragment, k.RawFragment = "", ""
	return k.String()
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
