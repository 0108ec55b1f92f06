package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

const (
	akHashedKey  = "proc-hashed-0123456789abcdef"
	akExpiredKey = "proc-expired-0123456789abcdef"
	akMainnetKey = "proc-mainnet-0123456789abcdef"
	akLowKey     = "proc-low-0123456789abcdef"
	akAddedKey   = "proc-added-0123456789abcdef"
)

// A key's settings, the network and top-level method policy, a token's
// issuer and nbf, a refused WebSocket upgrade, rotation through the admin
// API and a key added by a reload, on one gateway process.
func TestAccessKeySettingsAsProcess(t *testing.T) {
	nodes := fakeNodes(t, 2, 1)
	dir := t.TempDir()
	secret := strings.Repeat("s", 40)
	secretFile := filepath.Join(dir, "jwt.secret")
	writeFile(t, secretFile, secret)
	rpcPort, metricsPort, adminPort := freePort(t), freePort(t), freePort(t)
	hashed := sha256.Sum256([]byte(akHashedKey))
	top := strings.Replace(listeners(rpcPort, metricsPort), "log_requests: false", "log_requests: true", 1) + "admin:\n  listen: " + addr(adminPort) +
		"\n  state_file: " + filepath.Join(dir, "state.json") + `
networks:
  - name: mainnet
    local_nodes:
      - rpc_endpoint: ` + nodes[0].URL() + `
  - name: sepolia
    local_nodes:
      - rpc_endpoint: ` + nodes[1].URL() + `
`
	access := `access:
  methods: {deny: ["debug_*"]}
  networks:
    sepolia: {methods: {allow: ["eth_*", "admin_nodeInfo"]}}
  jwt:
    hmac_secret_file: ` + secretFile + `
    issuer: https://auth.example
    leeway: 1m
  keys:
    - name: hashed
      key_sha256: ` + hex.EncodeToString(hashed[:]) + `
    - name: expired
      key: ` + akExpiredKey + `
      expires: "2020-01-01T00:00:00Z"
    - name: mainnet-only
      key: ` + akMainnetKey + `
      networks: [mainnet]
    - name: low
      key: ` + akLowKey + `
      class: low
`
	cfg := filepath.Join(dir, "evmgate.yaml")
	writeFile(t, cfg, top+access)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := func(network string) string { return "http://" + addr(rpcPort) + "/" + network }
	call := func(network, body string, hdr ...string) (int, string) {
		t.Helper()
		code, _, answer := apmDo(t, http.MethodPost, url(network), body, hdr...)
		return code, answer
	}
	const nodeInfo = `{"jsonrpc":"2.0","id":1,"method":"admin_nodeInfo","params":[]}`

	t.Run("key_sha256", func(t *testing.T) {
		if code, body := call("mainnet", apmBlockNumber, "X-API-Key", akHashedKey); code != 200 || !strings.Contains(body, `"result":"0x64"`) {
			t.Fatalf("the key given by its hash: %d %s", code, body)
		}
		if code, body := call("mainnet", apmBlockNumber, "X-API-Key", hex.EncodeToString(hashed[:])); code != 401 {
			t.Fatalf("the hash itself as a key: %d %s", code, body)
		}
	})
	t.Run("expires", func(t *testing.T) {
		code, body := call("mainnet", apmBlockNumber, "X-API-Key", akExpiredKey)
		if code != 401 || !strings.Contains(body, `the API key \"expired\" expired at 2020-01-01T00:00:00Z`) {
			t.Fatalf("an expired key: %d %s", code, body)
		}
	})
	t.Run("a key's networks", func(t *testing.T) {
		if code, body := call("mainnet", apmBlockNumber, "X-API-Key", akMainnetKey); code != 200 {
			t.Fatalf("the key on its network: %d %s", code, body)
		}
		before := nodes[1].Requests()
		code, body := call("sepolia", apmBlockNumber, "X-API-Key", akMainnetKey)
		if code != 403 || !strings.Contains(body, `"code":-32071`) || !strings.Contains(body, `the API key \"mainnet-only\" may not call network \"sepolia\"`) {
			t.Fatalf("the key on another network: %d %s", code, body)
		}
		if n := nodes[1].Requests() - before; n != 0 {
			t.Fatalf("the refused call reached sepolia's node %d times", n)
		}
	})
	t.Run("network and top-level method policy", func(t *testing.T) {
		if code, body := call("sepolia", nodeInfo, "X-API-Key", akHashedKey); code != 200 || nodes[1].Calls("admin_nodeInfo") != 1 {
			t.Fatalf("admin_nodeInfo where sepolia's allow list names it: %d %s (node saw %d)", code, body, nodes[1].Calls("admin_nodeInfo"))
		}
		code, body := call("mainnet", nodeInfo, "X-API-Key", akHashedKey)
		if code != 403 || !strings.Contains(body, `"code":-32072`) || !strings.Contains(body, `method \"admin_nodeInfo\" is not offered on this endpoint`) {
			t.Fatalf("admin_nodeInfo on mainnet: %d %s", code, body)
		}
		if code, body := call("sepolia", `{"jsonrpc":"2.0","id":1,"method":"net_version","params":[]}`, "X-API-Key", akHashedKey); code != 403 {
			t.Fatalf("net_version, not in sepolia's allow list: %d %s", code, body)
		}
		if code, body := call("mainnet", apmTrace, "X-API-Key", akHashedKey); code != 403 || !strings.Contains(body, `"code":-32072`) {
			t.Fatalf("debug_traceTransaction under the top-level deny: %d %s", code, body)
		}
		if n := nodes[0].Calls("debug_traceTransaction") + nodes[0].Calls("admin_nodeInfo"); n != 0 {
			t.Fatalf("refused calls reached mainnet's node %d times", n)
		}
	})
	t.Run("token issuer and nbf", func(t *testing.T) {
		sign := func(claims jwt.MapClaims) string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			return "Bearer " + s
		}
		now := time.Now()
		exp := now.Add(time.Hour).Unix()
		cases := []struct {
			name   string
			claims jwt.MapClaims
			code   int
			says   string
		}{
			{"the expected issuer", jwt.MapClaims{"sub": "t1", "iss": "https://auth.example", "exp": exp}, 200, `"result":"0x64"`},
			{"another issuer", jwt.MapClaims{"sub": "t2", "iss": "https://other.example", "exp": exp}, 401, "its issuer (iss) is not the expected one"},
			{"nbf within the leeway", jwt.MapClaims{"sub": "t3", "iss": "https://auth.example", "exp": exp, "nbf": now.Add(20 * time.Second).Unix()}, 200, `"result":"0x64"`},
			{"nbf past the leeway", jwt.MapClaims{"sub": "t4", "iss": "https://auth.example", "exp": exp, "nbf": now.Add(10 * time.Minute).Unix()}, 401, "it is not valid yet (nbf)"},
		}
		for _, c := range cases {
			if code, body := call("mainnet", apmBlockNumber, "Authorization", sign(c.claims)); code != c.code || !strings.Contains(body, c.says) {
				t.Errorf("%s: %d %s, want %d and %q", c.name, code, body, c.code, c.says)
			}
		}
	})
	t.Run("WebSocket upgrade without a key", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, "ws://"+addr(rpcPort)+"/mainnet", nil)
		if err == nil {
			c.CloseNow()
			t.Fatal("the upgrade without a key was accepted")
		}
		if resp == nil || resp.StatusCode != 401 {
			t.Fatalf("the upgrade without a key: %v %v", resp, err)
		}
		c, _, err = websocket.Dial(ctx, "ws://"+addr(rpcPort)+"/mainnet/"+akHashedKey, nil)
		if err != nil {
			t.Fatalf("the upgrade with a path key: %v", err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte(apmBlockNumber)); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.Read(ctx); err != nil || !strings.Contains(string(msg), `"result":"0x64"`) {
			t.Fatalf("a call over the keyed WebSocket: %s %v", msg, err)
		}
		c.Close(websocket.StatusNormalClosure, "")
	})
	t.Run("rotate", func(t *testing.T) {
		admin := "http://" + addr(adminPort) + "/admin/keys"
		code, _, body := apmDo(t, http.MethodPost, admin, `{"name":"dapp"}`)
		var first, second struct{ Key string }
		if code != 201 || json.Unmarshal([]byte(body), &first) != nil || first.Key == "" {
			t.Fatalf("create: %d %s", code, body)
		}
		code, _, body = apmDo(t, http.MethodPost, admin+"/dapp/rotate", "")
		if code != 200 || json.Unmarshal([]byte(body), &second) != nil || second.Key == "" || second.Key == first.Key {
			t.Fatalf("rotate: %d %s", code, body)
		}
		if code, body := call("mainnet", apmBlockNumber, "X-API-Key", first.Key); code != 401 {
			t.Fatalf("the key before its rotation: %d %s", code, body)
		}
		if code, body := call("mainnet", apmBlockNumber, "X-API-Key", second.Key); code != 200 {
			t.Fatalf("the rotated key: %d %s", code, body)
		}
	})
	t.Run("key added by a reload", func(t *testing.T) {
		if code, body := call("mainnet", apmBlockNumber, "X-API-Key", akAddedKey); code != 401 {
			t.Fatalf("the key before it is in the file: %d %s", code, body)
		}
		replaceFile(t, cfg, top+access+"    - name: added\n      key: "+akAddedKey+"\n")
		p.signal(syscall.SIGHUP)
		p.waitOutput(p.stderr, "configuration reloaded", time.Minute)
		eventually(t, time.Minute, "the added key to be served", func() bool {
			code, _ := call("mainnet", apmBlockNumber, "X-API-Key", akAddedKey)
			return code == 200
		})
	})

	// A key's class caps what the headers ask for: the low key asking
	// for the fast track gets low; a key without a class gets it.
	for _, key := range []string{akLowKey, akAddedKey} {
		if code, body := call("mainnet", `{"jsonrpc":"2.0","id":"fast","method":"eth_blockNumber","params":[]}`, "X-API-Key", key, "X-Fast-Track", "true"); code != 200 {
			t.Fatalf("X-Fast-Track: %d %s", code, body)
		}
	}
	if code, _ := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	for key, class := range map[string]string{"low": "class=low", "added": "class=fast_track"} {
		if line := grepLines(grepLines(p.stderr.String(), "key="+key), "method=eth_blockNumber"); !strings.Contains(lastLine(line), class) {
			t.Errorf("the request log of key %s's fast-track call: %q, want %s", key, lastLine(line), class)
		}
	}
	logs := p.stdout.String() + p.stderr.String()
	for _, s := range []string{akHashedKey, akExpiredKey, akMainnetKey, akLowKey, akAddedKey, secret} {
		if strings.Contains(logs, s) {
			t.Fatalf("a key or a secret is in the process's output")
		}
	}
}

// lastLine is the last non-empty line of text.
func lastLine(text string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return lines[len(lines)-1]
}
