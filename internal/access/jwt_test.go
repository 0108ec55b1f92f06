package access

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/golang-jwt/jwt/v5"
)

// jwtFixture holds the keys of every accepted algorithm and a gateway
// configured with them.
type jwtFixture struct {
	hmac []byte
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
	jwks *ecdsa.PrivateKey // published in the JWKS file under kid "k1"
	a    *Access
}

func newJWTFixture(t testing.TB) *jwtFixture {
	t.Helper()
	dir := t.TempDir()
	f := &jwtFixture{hmac: []byte(strings.Repeat("s", 40))}
	f.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	f.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.jwks, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemOf := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	raw, _ := f.jwks.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "crv": "P-256", "kid": "k1", "x": enc(raw[1:33]), "y": enc(raw[33:])},
	}})
	cfg := Config{JWT: JWTConfig{
		HMACSecretFile: write("hmac", f.hmac),
		PublicKeyFiles: []string{write("rsa.pem", pemOf(&f.rsa.PublicKey)), write("ec.pem", pemOf(&f.ec.PublicKey))},
		JWKSFile:       write("jwks.json", jwks),
		Issuer:         "https://issuer.example", Audience: "evmgate",
	}}
	f.a = newAccess(t, cfg)
	return f
}

func (f *jwtFixture) sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims, kid string) string {
	t.Helper()
	base := jwt.MapClaims{"iss": "https://issuer.example", "aud": "evmgate", "sub": "dapp-1",
		"exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	tok := jwt.NewWithClaims(m, base)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWT(t *testing.T) {
	f := newJWTFixture(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	past := time.Now().Add(-time.Hour).Unix()
	cases := []struct {
		name  string
		token string
		msg   string // "" : accepted
	}{
		{"HS256", f.sign(t, jwt.SigningMethodHS256, f.hmac, nil, ""), ""},
		{"RS256", f.sign(t, jwt.SigningMethodRS256, f.rsa, nil, ""), ""},
		{"ES256", f.sign(t, jwt.SigningMethodES256, f.ec, nil, ""), ""},
		{"ES256 from the JWKS", f.sign(t, jwt.SigningMethodES256, f.jwks, nil, "k1"), ""},
		{"expired", f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"exp": past}, ""), "it expired (exp)"},
		{"no exp", f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"exp": nil}, ""), "it has no exp claim"},
		{"not yet", f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"nbf": time.Now().Add(time.Hour).Unix()}, ""), "it is not valid yet (nbf)"},
		{"audience", f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"aud": "other"}, ""), "its audience (aud)"},
		{"issuer", f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"iss": "https://evil.example"}, ""), "its issuer (iss)"},
		{"unknown signer", f.sign(t, jwt.SigningMethodRS256, other, nil, ""), "its signature does not verify"},
		{"wrong HMAC", f.sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), nil, ""), "its signature does not verify"},
		{"malformed", "abc.def.ghi", "it is malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, e := f.a.Identify(request("Authorization", "Bearer "+c.token), "mainnet", "")
			if c.msg == "" {
				if e != nil || caller.Name() != "dapp-1" {
					t.Fatalf("got %v %v", caller, e)
				}
				return
			}
			if e == nil || e.Code != jsonrpc.CodeUnauthorized || !strings.Contains(e.Message, c.msg) {
				t.Fatalf("got %v, want %q", e, c.msg)
			}
			if strings.Contains(e.Message, c.token) {
				t.Fatal("the error shows the token")
			}
		})
	}
}

func TestJWTClaimsAreKeySettings(t *testing.T) {
	f := newJWTFixture(t)
	tok := f.sign(t, jwt.SigningMethodHS256, f.hmac, jwt.MapClaims{"name": "partner", "networks": []string{"mainnet"},
		"methods": map[string]any{"deny": []string{"debug_*"}}, "class": "high", "limit": map[string]any{"rate": 1, "burst": 1}}, "")
	if _, e := f.a.Identify(request("Authorization", "Bearer "+tok), "sepolia", ""); e == nil || e.Code != jsonrpc.CodeForbidden {
		t.Fatalf("another network: got %v", e)
	}
	c, e := f.a.Identify(request("Authorization", "Bearer "+tok), "mainnet", "")
	if e != nil || c.Name() != "partner" {
		t.Fatalf("got %v %v", c, e)
	}
	if e := f.a.Method(c, "mainnet", "debug_traceCall"); e == nil || e.Code != jsonrpc.CodeForbidden {
		t.Fatalf("denied by the claims: got %v", e)
	}
	if _, e := f.a.Take(t.Context(), c, 1); e != nil {
		t.Fatal(e)
	}
	if _, e := f.a.Take(t.Context(), c, 1); e == nil || e.Code != jsonrpc.CodeRateLimited {
		t.Fatalf("the claims' limit: got %v", e)
	}
}
