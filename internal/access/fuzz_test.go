package access

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzIdentify feeds arbitrary keys and bearer values: the answer is a
// caller or a refusal that never echoes the secret.
func FuzzIdentify(f *testing.F) {
	f.Add(aliceKey, "", "")
	f.Add("", bobKey, "Bearer x.y.z")
	f.Add("a/b", "", "bearer "+strings.Repeat("A", 300))
	f.Add("", "", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.")
	a := newAccess(f, keysConfig())
	a.snap.Load().jwt, _ = newVerifier(JWTConfig{HMACSecretFile: writeTemp(f, strings.Repeat("k", 32)), Leeway: "1s"})
	f.Fuzz(func(t *testing.T, pathKey, header, auth string) {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mainnet", nil)
		r.Header.Set("X-API-Key", header)
		r.Header.Set("Authorization", auth)
		c, e := a.Identify(r, "mainnet", pathKey)
		if (c == nil) == (e == nil) {
			t.Fatalf("caller %v and error %v", c, e)
		}
		if e != nil {
			for _, s := range []string{pathKey, header, strings.TrimPrefix(auth, "Bearer ")} {
				if len(s) >= 8 && strings.Contains(e.Message, s) {
					t.Fatalf("the error echoes the secret: %s", e.Message)
				}
			}
		}
	})
}

// FuzzJWKS parses arbitrary key-set files without panicking.
func FuzzJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = parseJWKS(b) })
}

// FuzzJWTClaims signs arbitrary claims: a valid signature over any claims
// gives a key or a precise refusal, never a panic.
func FuzzJWTClaims(f *testing.F) {
	f.Add(`{"sub":"a","limit":{"rate":-1}}`)
	f.Add(`{"name":"b","class":"urgent","methods":{"allow":["*"]}}`)
	secret := strings.Repeat("k", 32)
	v, err := newVerifier(JWTConfig{HMACSecretFile: writeTemp(f, secret), Leeway: "1s"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, claims string) {
		var m jwt.MapClaims
		if jsonErr := jsonUnmarshal([]byte(claims), &m); jsonErr != nil || m == nil {
			return
		}
		m["exp"] = time.Now().Add(time.Hour).Unix()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString([]byte(secret))
		if err != nil {
			return
		}
		k, e := v.verify(tok)
		if (k == nil) == (e == nil) {
			t.Fatalf("key %v and error %v", k, e)
		}
	})
}
