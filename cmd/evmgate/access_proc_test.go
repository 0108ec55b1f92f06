package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const procKey = "proc-alice-0123456789abcdef"

func TestAccessAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	dir := t.TempDir()
	secret := strings.Repeat("j", 40)
	secretFile := filepath.Join(dir, "jwt.secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	// An ES256 key published in a JWKS file, and an RS256 key in a PEM file.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := ecKey.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "k1", "x": enc(raw[1:33]), "y": enc(raw[33:])}}})
	jwksFile := filepath.Join(dir, "jwks.json")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pemFile := filepath.Join(dir, "rsa.pem")
	if os.WriteFile(jwksFile, jwks, 0o600) != nil || os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600) != nil {
		t.Fatal("writing the key files")
	}
	rpcPort, metricsPort, adminPort := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "evmgate.yaml")
	yaml := `listen_addr: 127.0.0.1
port: ` + itoa(rpcPort) + `
metrics_port: ` + itoa(metricsPort) + `
admin:
  listen: 127.0.0.1:` + itoa(adminPort) + `
  state_file: ` + filepath.Join(dir, "state.json") + `
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: ` + f.URL() + `
access:
  keys:
    - name: alice
      key: ${ALICE_KEY}
      limit: {rate: 0.2, burst: 4}
  jwt:
    hmac_secret_file: ` + secretFile + `
    jwks_file: ` + jwksFile + `
    public_key_files: [` + pemFile + `]
    audience: evmgate
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, []string{"ALICE_KEY=" + procKey}, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(rpcPort) + "/mainnet"
	const call = `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`

	if code, body := rpc(t, base, call); code != 401 || !strings.Contains(body, `"code":-32070`) {
		t.Fatalf("no key: %d %s", code, body)
	}
	if code, body := rpc(t, base+"/"+procKey, call); code != 200 || !strings.Contains(body, `"result":"0x64"`) {
		t.Fatalf("path key: %d %s", code, body)
	}
	post := func(url string, hdr ...string) (int, http.Header, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(call))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	signWith := func(m jwt.SigningMethod, key any, kid string, exp time.Time) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims{"sub": "dapp", "aud": "evmgate", "exp": exp.Unix()})
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sign := func(exp time.Time) string { return signWith(jwt.SigningMethodHS256, []byte(secret), "", exp) }
	hour := time.Now().Add(time.Hour)
	for _, tok := range []string{sign(hour), signWith(jwt.SigningMethodES256, ecKey, "k1", hour), signWith(jwt.SigningMethodRS256, rsaKey, "", hour)} {
		if code, _, body := post(base, "Authorization", "Bearer "+tok); code != 200 {
			t.Fatalf("token: %d %s", code, body)
		}
	}
	if code, _, body := post(base, "Authorization", "Bearer "+sign(time.Now().Add(-time.Hour))); code != 401 ||
		!strings.Contains(body, "the token is not valid: it expired (exp)") {
		t.Fatalf("expired token: %d %s", code, body)
	}
	// alice's burst of 4 is spent by three more calls and one refused.
	for range 3 {
		post(base, "X-API-Key", procKey)
	}
	code, hdr, body := post(base, "X-API-Key", procKey)
	if code != 429 || hdr.Get("Retry-After") == "" || !strings.Contains(body, `"code":-32073`) {
		t.Fatalf("over alice's limit: %d %v %s", code, hdr, body)
	}

	// A runtime key through the admin API, then revoked.
	admin := "http://" + addr(adminPort) + "/admin/keys"
	resp, err := http.Post(admin, "application/json", strings.NewReader(`{"name":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Key string }
	_ = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode != 201 || created.Key == "" {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if code, body := rpc(t, base+"/"+created.Key, call); code != 200 {
		t.Fatalf("bob: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, admin+"/bob", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	if code, body := rpc(t, base+"/"+created.Key, call); code != 401 || !strings.Contains(body, `the API key \"bob\" was revoked`) {
		t.Fatalf("bob revoked: %d %s", code, body)
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	logs := p.stdout.String() + p.stderr.String()
	for _, s := range []string{procKey, created.Key, secret} {
		if strings.Contains(logs, s) {
			t.Fatal("a key, a token or a secret was logged")
		}
	}
	if n := strings.Count(logs, "client access requires an API key or a token"); n != 1 {
		t.Fatalf("the access line was logged %d times", n)
	}
}

func TestOpenAccessLoggedOnceAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)[0]
	rpcPort := freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	yaml := "listen_addr: 127.0.0.1\nport: " + itoa(rpcPort) + "\nmetrics_port: -1\nnetworks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: " + f.URL() + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", `{"jsonrpc":"2.0","id":1,"method":"admin_peers","params":[]}`); code != 403 ||
		!strings.Contains(body, `method \"admin_peers\" is not offered on this endpoint`) {
		t.Fatalf("admin_ on the public listener: %d %s", code, body)
	}
	p.terminate(30 * time.Second)
	if n := strings.Count(p.stderr.String(), "client access is open"); n != 1 {
		t.Fatalf("the open-access line was logged %d times:\n%s", n, p.stderr)
	}
}

func TestAccessConfigErrorsAsProcess(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	yaml := "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:1\naccess:\n  keys:\n    - name: a\n      key: short\n      networks: [nosuch]\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runProc(t, "-config", cfg)
	if code == 0 || !strings.Contains(stderr, "access.keys[0].key: too short") ||
		!strings.Contains(stderr, `access.keys[0].networks: no network is named "nosuch"`) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "short\"") {
		t.Fatal("the error shows the key")
	}
}
