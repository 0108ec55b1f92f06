package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestParseSecret(t *testing.T) {
	t.Parallel()
	hex64 := strings.Repeat("ab", 32)
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"plain", hex64, true},
		{"0x prefix", "0x" + hex64, true},
		{"whitespace and newline", "  0x" + hex64 + "\n", true},
		{"upper case", strings.ToUpper(hex64), true},
		{"31 bytes", hex64[2:], false},
		{"33 bytes", hex64 + "ab", false},
		{"not hex", strings.Repeat("zz", 32), false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := ParseSecret(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseSecret(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if tc.ok && s[0] != 0xab {
				t.Fatalf("first byte %x", s[0])
			}
		})
	}
}

func TestVerifier(t *testing.T) {
	t.Parallel()
	var secret, other Secret
	secret[0], other[0] = 1, 2
	now := time.Unix(1_800_000_000, 0)
	v := NewVerifier(secret, func() time.Time { return now })
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	iat := func(d time.Duration) jwt.MapClaims { return jwt.MapClaims{"iat": now.Add(d).Unix()} }
	noneToken := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, iat(0))
	tests := []struct {
		name   string
		header string
		want   error // nil: accepted
	}{
		{"fresh token", "Bearer " + secret.Mint(now), nil},
		{"lower-case bearer", "bearer " + secret.Mint(now), nil},
		{"iat 50 s old with id and clv claims", "Bearer " + sign(jwt.SigningMethodHS256, secret[:],
			jwt.MapClaims{"iat": now.Add(-50 * time.Second).Unix(), "id": "cl-1", "clv": "Lighthouse/v8"}), nil},
		{"iat 50 s ahead", "Bearer " + sign(jwt.SigningMethodHS256, secret[:], iat(50*time.Second)), nil},
		{"missing header", "", ErrMissingToken},
		{"basic auth", "Basic dXNlcjpwYXNz", ErrMissingToken},
		{"empty bearer", "Bearer ", ErrMissingToken},
		{"wrong secret", "Bearer " + other.Mint(now), ErrBadToken},
		{"stale iat", "Bearer " + secret.Mint(now.Add(-120*time.Second)), ErrStaleToken},
		{"future iat", "Bearer " + secret.Mint(now.Add(120*time.Second)), ErrFutureToken},
		{"no iat", "Bearer " + sign(jwt.SigningMethodHS256, secret[:], jwt.MapClaims{"id": "x"}), ErrMissingIAT},
		{"alg none", "Bearer " + noneToken, ErrBadToken},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, secret[:], iat(0)), ErrBadToken},
		{"expired", "Bearer " + sign(jwt.SigningMethodHS256, secret[:],
			jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(-time.Second).Unix()}), ErrBadToken},
		{"garbage", "Bearer not.a.token", ErrBadToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := v.Check(tc.header)
			if tc.want == nil && err != nil {
				t.Fatalf("Check rejected a good token: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMintIsVerifiable(t *testing.T) {
	t.Parallel()
	s, _ := ParseSecret(strings.Repeat("42", 32))
	now := time.Now()
	tok := s.Mint(now)
	if err := NewVerifier(s, nil).Check("Bearer " + tok); err != nil {
		t.Fatalf("own token rejected: %v", err)
	}
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return s[:], nil }, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		t.Fatalf("golang-jwt rejects our token: %v", err)
	}
	if got, _ := parsed.Claims.GetIssuedAt(); got == nil || got.Unix() != now.Unix() {
		t.Fatalf("iat = %v, want %d", got, now.Unix())
	}
}
