//go:build !nodemo

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
)

// `evmgate engine` with executionbackup's flags, and `evmgate -config` with
// a file whose only section is engine:, in front of real go-ethereum
// execution clients: a consensus-client driver builds and imports blocks
// through the process, every answer is VALID and the heads advance; a wrong
// JWT gets 401; SIGTERM ends the process with exit 0.
func TestEngineAsProcess(t *testing.T) {
	for _, form := range []string{"flags", "yaml", "yaml with networks"} {
		t.Run(form, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			net, err := devnet.Start(ctx, devnet.Config{Nodes: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer net.Close()
			nodes := net.Nodes()
			dir := t.TempDir()
			secret, secretPath := hexSecret(t, dir, "cl.hex")
			port, metricsPort, rpcPort := freePort(t), freePort(t), freePort(t)
			evmgateBin(t) // built before the clock starts
			started := time.Now()
			var p *proc
			if form == "flags" {
				var specs []string
				for _, n := range nodes {
					specs = append(specs, n.AuthURL()+"#jwt-secret="+n.JWTSecretPath())
				}
				p = startProc(t, nil, "engine", "--nodes", strings.Join(specs, ","), "--jwt-secret", secretPath,
					"--port", itoa(port), "--listen-addr", "127.0.0.1", "--fcu-majority", "0.6")
			} else {
				yaml := "metrics_addr: 127.0.0.1\nmetrics_port: " + itoa(metricsPort) + "\nengine:\n  enabled: true\n  listen_addr: " +
					addr(port) + "\n  jwt_secret: " + secretPath + "\n  nodes:\n"
				for _, n := range nodes {
					yaml += "    - url: " + n.AuthURL() + "\n      jwt_secret: " + n.JWTSecretPath() + "\n"
				}
				if form == "yaml with networks" {
					yaml += "listen_addr: 127.0.0.1\nport: " + itoa(rpcPort) + "\nnetworks:\n  - name: devnet\n    local_nodes:\n"
					for _, n := range nodes {
						yaml += "      - rpc_endpoint: " + n.HTTPURL() + "\n"
					}
				}
				cfg := filepath.Join(dir, "engine.yaml")
				writeFile(t, cfg, yaml)
				p = startProc(t, nil, "-config", cfg)
			}
			p.waitOutput(p.stderr, "engine API multiplexer started", time.Minute)
			base := "http://" + addr(port)
			drv := devnet.NewDriver(base, secret)
			defer drv.Close()
			for want := uint64(1); want <= 3; want++ {
				// Right after start geth reports syncing while it indexes
				// transactions, and the multiplexer answers SYNCING as it
				// must; a consensus client sends again, as the test does for
				// the first block. After that every answer must be VALID.
				mineThrough(ctx, t, drv, net, want == 1)
				if want == 1 {
					t.Logf("%s: first VALID answer %v after the process started", form, time.Since(started))
				}
				for _, n := range nodes {
					if got, err := n.BlockNumber(ctx); err != nil || got != want {
						t.Fatalf("%s at head %d (%v), want %d", n.Name(), got, err, want)
					}
				}
			}
			if raw, err := drv.Call(ctx, "eth_blockNumber"); err != nil || string(raw) != `"0x3"` {
				t.Fatalf("eth_blockNumber through the process: %s %v", raw, err)
			}

			wrong, _ := hexSecret(t, dir, "wrong.hex")
			bad := devnet.NewDriver(base, wrong)
			defer bad.Close()
			var he *devnet.HTTPError
			if _, err := bad.Call(ctx, "eth_blockNumber"); !errors.As(err, &he) || he.StatusCode != 401 {
				t.Fatalf("a wrong JWT got %v, want HTTP 401", err)
			}
			if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, `"alive_nodes"`) {
				t.Fatalf("executionbackup's status API: %d %s", code, body)
			}
			if form == "yaml with networks" {
				code, body := rpc(t, "http://"+addr(rpcPort)+"/devnet", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
				if code != 200 || body != `{"jsonrpc":"2.0","id":1,"result":"0x3"}` {
					t.Fatalf("JSON-RPC beside the multiplexer: %d %s", code, body)
				}
			}
			if form != "flags" {
				code, body := get(t, "http://"+addr(metricsPort)+"/metrics")
				if code != 200 || !strings.Contains(body, "evmgate_engine_requests_total") {
					t.Fatalf("Prometheus metrics: %d\n%s", code, grepLines(body, "evmgate_engine"))
				}
			}
			if code, took := p.terminate(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
			}
			if !refused(addr(port)) {
				t.Fatal("the Engine API port still listens after the process exited")
			}
		})
	}
}

// mineThrough builds a block through the multiplexer, imports it through it
// and makes it the head; every answer must be VALID, or with retrySyncing
// SYNCING until VALID.
func mineThrough(ctx context.Context, t *testing.T, drv *devnet.Driver, net *devnet.Net, retrySyncing bool) {
	t.Helper()
	head, safe, final := net.Forkchoice()
	attrs := net.NextAttributes()
	st, id, err := drv.ForkchoiceUpdated(ctx, head, safe, final, attrs)
	if err != nil || st.Status != devnet.StatusValid || id == "" {
		t.Fatalf("forkchoiceUpdated with attributes: %v %v id=%q", st, err, id)
	}
	payload, env, err := drv.GetPayload(ctx, id)
	if err != nil {
		t.Fatalf("getPayload: %v", err)
	}
	blk, err := devnet.NewBlock(payload, env, attrs.ParentBeaconBlockRoot)
	if err != nil {
		t.Fatal(err)
	}
	for {
		st, err := drv.NewPayloadBlock(ctx, blk)
		if err == nil && st.Status == devnet.StatusValid {
			break
		}
		if err != nil || st.Status != devnet.StatusSyncing || !retrySyncing || ctx.Err() != nil {
			t.Fatalf("newPayload: %v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond) // a consensus client's next try
	}
	if st, _, err := drv.ForkchoiceUpdated(ctx, blk.Hash, safe, final, nil); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("forkchoiceUpdated: %v %v", st, err)
	}
	if err := net.ImportBlock(ctx, blk); err != nil {
		t.Fatal(err)
	}
}

// hexSecret writes a random 32-byte JWT secret as hex.
func hexSecret(t *testing.T, dir, name string) ([]byte, string) {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	writeFile(t, path, hex.EncodeToString(secret)+"\n")
	return secret, path
}
