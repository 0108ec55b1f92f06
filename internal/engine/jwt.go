package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Secret is a 32-byte Engine API JWT key (execution-apis authentication.md).
type Secret [32]byte

// iatWindow is how far a token's iat may be from the local clock
// (authentication.md: "±60 seconds").
const iatWindow = 60 * time.Second

// ParseSecret decodes a hex secret as execution clients do: surrounding
// whitespace is trimmed, the 0x prefix is optional, and the key must be
// exactly 32 bytes.
func ParseSecret(text string) (Secret, error) {
	var s Secret
	text = strings.TrimSpace(text)
	text = strings.TrimPrefix(strings.TrimPrefix(text, "0x"), "0X")
	b, err := hex.DecodeString(text)
	if err != nil {
		return s, errors.New("parsing jwt secret: not hex")
	}
	if len(b) != len(s) {
		return s, fmt.Errorf("parsing jwt secret: %d bytes, want 32", len(b))
	}
	copy(s[:], b)
	return s, nil
}

// LoadSecret reads and parses a secret file. The error never quotes the
// file's content.
func LoadSecret(path string) (Secret, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, fmt.Errorf("reading jwt secret: %w", err)
	}
	s, err := ParseSecret(string(raw))
	if err != nil {
		return Secret{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// jwtHeader is the fixed, pre-encoded header of every token we mint.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// Mint returns an HS256 token whose only claim is iat = now, which is all the
// Engine API requires. It is cheap enough to call for every outbound request.
func (s Secret) Mint(now time.Time) string {
	claims := `{"iat":` + strconv.FormatInt(now.Unix(), 10) + `}`
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, s[:])
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Auth errors. Their text is what the consensus client sees in the 401 body.
var (
	ErrMissingToken = errors.New("missing token")
	ErrBadToken     = errors.New("invalid token")
	ErrMissingIAT   = errors.New("missing issued-at")
	ErrStaleToken   = errors.New("stale token")
	ErrFutureToken  = errors.New("future token")
)

// Verifier checks inbound Authorization headers the way an execution client
// does: "Bearer " (any case) + an HS256 token signed with the shared secret,
// whose iat lies within ±60 s of now; exp and nbf are enforced when present
// and unknown claims are ignored. alg "none" and every other algorithm are
// rejected.
type Verifier struct {
	secret Secret
	now    func() time.Time
	parser *jwt.Parser
}

// NewVerifier returns a Verifier using now as its clock (time.Now if nil).
func NewVerifier(secret Secret, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{
		secret: secret,
		now:    now,
		parser: jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(now)),
	}
}

// Check validates an Authorization header value.
func (v *Verifier) Check(header string) error {
	const prefix = "bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return ErrMissingToken
	}
	raw := strings.TrimSpace(header[len(prefix):])
	if raw == "" {
		return ErrMissingToken
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		return v.secret[:], nil
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	iat, err := claims.GetIssuedAt()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if iat == nil {
		return ErrMissingIAT
	}
	now := v.now()
	switch {
	case iat.Before(now.Add(-iatWindow)):
		return ErrStaleToken
	case iat.After(now.Add(iatWindow)):
		return ErrFutureToken
	}
	return nil
}
