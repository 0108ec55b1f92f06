package access

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
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

// FuzzAdminCreate posts arbitrary bodies to POST /admin/keys: each is a
// new key (201), a refusal naming the problem (400) or a name already
// taken (409); a key created is usable at once.
func FuzzAdminCreate(f *testing.F) {
	f.Add(`{"name":"dapp","networks":["mainnet"],"limit":{"rate":10,"burst":20}}`)
	f.Add(`{"name":"x","class":"urgent"}`)
	f.Add(`{"name":"y","methods":{"allow":["a*b"]}}`)
	f.Add(`[]`)
	a := newAccess(f, Config{})
	a.store = NewFileStore(filepath.Join(f.TempDir(), "keys.json"))
	h := a.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/admin/keys", strings.NewReader(body)))
		switch w.Code {
		case http.StatusCreated:
			var out struct{ Key string }
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Key == "" {
				t.Fatalf("created without a key: %s", w.Body)
			}
			if _, e := a.snap.Load().lookup(out.Key, time.Now()); e != nil {
				t.Fatalf("the created key does not work: %v", e)
			}
		case http.StatusBadRequest, http.StatusConflict:
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}
