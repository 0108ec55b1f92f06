package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/redistest"
)

// A replica started while its Redis is down, as a pod rescheduled during a
// Redis outage is: README "Runtime node management" and "Runtime keys".

const (
	keysDownAtStart = "runtime API keys not read at start"
	keysDownLater   = "runtime API keys not re-read"
	keysBack        = "runtime API keys read again"
	storedSecret    = "proc-stored-0123456789abcdef"
)

// redisDownConfig writes a gateway with redis_url at srv (not necessarily
// running), an admin listener, no key and no JWT, and extra top-level lines.
func redisDownConfig(t *testing.T, srv *redistest.Server, rpcPort int, extra string) string {
	t.Helper()
	f := fakeNodes(t, 1, 1)
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, cfg, "redis_url: "+srv.URL()+"\n"+extra+
		adminConfig(rpcPort, "  listen: "+addr(freePort(t))+"\n  token: "+procAdminToken+"\n", f[0]))
	return cfg
}

func TestRedisDownAtStartAsProcess(t *testing.T) {
	srv := redistest.New(t) // its port is closed until Start
	rpcPort := freePort(t)
	p := startProc(t, nil, "-config", redisDownConfig(t, srv, rpcPort, ""))
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/mainnet"
	// Runtime keys may make it keyed: until they are read, a call without a
	// key is refused, saying why, rather than let through unchecked.
	if code, body := rpc(t, url, clientVersion); code != 503 || !strings.Contains(body, "-32075") ||
		!strings.Contains(body, "runtime API keys cannot be read yet") {
		t.Fatalf("a call without a key with Redis down at the start: %d %s", code, body)
	}
	if n := strings.Count(p.stderr.String(), keysDownAtStart); n != 1 {
		t.Fatalf("%d lines %q, want 1:\n%s", n, keysDownAtStart, p.stderr)
	}
	if line := grepLines(p.stderr.String(), keysDownAtStart); !strings.Contains(line, "level=WARN") ||
		!strings.Contains(line, "set access.require_key: false") || !strings.Contains(line, "connection refused") {
		t.Fatalf("the start's warning: %s", line)
	}

	// Redis comes back holding a key made through another replica: this
	// one reads it, says so, and the gateway is now keyed.
	srv.Start()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	h := access.Hash(storedSecret)
	stored, _ := json.Marshal([]map[string]any{{
		"spec": map[string]any{"name": "stored"}, "sha256": hex.EncodeToString(h[:]), "created": time.Now().UTC(),
	}})
	if err := rdb.Set(context.Background(), "evmgate:access:keys", stored, 0).Err(); err != nil {
		t.Fatal(err)
	}
	p.waitOutput(p.stderr, keysBack, time.Minute)
	p.waitOutput(p.stderr, "client access now requires an API key", time.Minute)
	if code, body := rpc(t, url, clientVersion); code != 401 {
		t.Fatalf("a call without a key once the stored key is read: %d %s", code, body)
	}
	if code, _, body := apmDo(t, "POST", url, clientVersion, "X-API-Key", storedSecret); code != 200 {
		t.Fatalf("a call with the stored key: %d %s", code, body)
	}

	// Redis goes away again: one warning for the outage, not one per
	// re-read (every 2s), and the keys last read still serve.
	srv.Stop()
	p.waitOutput(p.stderr, keysDownLater, time.Minute)
	time.Sleep(5 * time.Second) // what is counted is lines not written: no signal marks their absence
	if n := strings.Count(p.stderr.String(), keysDownLater); n != 1 {
		t.Fatalf("%d lines %q over 5s of outage, want 1:\n%s", n, keysDownLater, p.stderr)
	}
	if code, _, body := apmDo(t, "POST", url, clientVersion, "X-API-Key", storedSecret); code != 200 {
		t.Fatalf("a call with the stored key while Redis is down: %d %s", code, body)
	}
}

// With access.require_key: false (the operator says no key is needed), a
// replica started while Redis is down serves calls without a key at once.
func TestRedisDownAtStartOpenAsProcess(t *testing.T) {
	srv := redistest.New(t) // never started
	rpcPort := freePort(t)
	p := startProc(t, nil, "-config", redisDownConfig(t, srv, rpcPort, "access:\n  require_key: false\n"))
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", clientVersion); code != 200 || !strings.Contains(body, `"result"`) {
		t.Fatalf("a call without a key, require_key: false, Redis down: %d %s", code, body)
	}
}

// With log_format json and Redis down, every stderr line is JSON: go-redis's
// own lines (each failed dial) come through the gateway's logger, at DEBUG.
// The start's warning is written once over several re-reads.
func TestRedisDownJSONLogAsProcess(t *testing.T) {
	srv := redistest.New(t) // never started
	rpcPort := freePort(t)
	p := startProc(t, nil, "-config", redisDownConfig(t, srv, rpcPort, "log_format: json\nlog_level: debug\n"))
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	time.Sleep(5 * time.Second) // two re-reads at least (every 2s); lines not written have no signal
	if code, _ := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	text := p.stderr.String()
	redisLines := 0
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a stderr line is not JSON (%v): %s", err, line)
		}
		if rec["msg"] == "redis client" {
			redisLines++
			if rec["level"] != "DEBUG" {
				t.Fatalf("go-redis's line at %v, want DEBUG: %s", rec["level"], line)
			}
		}
	}
	if redisLines == 0 {
		t.Fatalf("no go-redis line came through the logger:\n%s", text)
	}
	if n := strings.Count(text, keysDownAtStart); n != 1 {
		t.Fatalf("%d lines %q, want 1:\n%s", n, keysDownAtStart, text)
	}
	if n := strings.Count(text, keysDownLater); n != 0 {
		t.Fatalf("%d lines %q in the outage the start already reported, want 0:\n%s", n, keysDownLater, text)
	}
}

// validate names the key the file wrote, redis_url (admin.redis_url's short
// form), and the schemes to use.
func TestValidateRedisURLKeyAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	cfg := filepath.Join(t.TempDir(), "gw.yaml")
	writeFile(t, cfg, "redis_url: http://127.0.0.1:6379\n"+adminConfig(freePort(t), "  listen: 127.0.0.1:0\n", f[0]))
	code, _, stderr := runProc(t, "validate", "-config", cfg)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if !strings.Contains(stderr, "\n  redis_url: redis: invalid URL scheme: http: write redis://") ||
		!strings.Contains(stderr, "rediss://") || strings.Contains(stderr, "admin.redis_url") {
		t.Fatalf("validate's message:\n%s", stderr)
	}
}
