//go:build !nodemo

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/evmgate/evmgate/internal/devnet"
)

// `evmgate engine` with executionbackup's flags, and `evmgate -config` with
// a file whose only section is engine:, in front of real go-ethereum
// execution clients: a consensus-client driver builds and imports blocks
// through the process, every answer is VALID and the heads advance; a wrong
// JWT gets 401; SIGTERM ends the process with exit 0. With flags, every one
// the README shows is given (#timeout, #do-not-use, --min-agree, --timeout,
// --log-level, --admin-token) and checked for its effect, /recheck and
// /add_nodes included; from a file without admin_token those are off (403).
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
			// With flags, a do-not-use node that answers INVALID to every
			// call: it must receive the calls and never change an answer.
			var spare *fakeEL
			if form == "flags" {
				spare = newFakeEL(t)
				specs := []string{
					nodes[0].AuthURL() + "#jwt-secret=" + nodes[0].JWTSecretPath() + "#timeout=3000",
					nodes[1].AuthURL() + "#jwt-secret=" + nodes[1].JWTSecretPath(),
					spare.URL() + "#do-not-use#timeout=300",
				}
				p = startProc(t, nil, "engine", "--nodes", strings.Join(specs, ","), "--jwt-secret", secretPath,
					"--port", itoa(port), "--listen-addr", "127.0.0.1", "--fcu-majority", "0.6",
					"--min-agree", "1", "--timeout", "20000", "--log-level", "debug", "--admin-token", engineAdminToken)
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
			if form == "flags" {
				p.waitOutput(p.stderr, "engine request rejected", time.Minute) // a debug line: --log-level debug
				checkDoNotUse(t, base, spare)
				checkEngineAdmin(ctx, t, base, drv, net, spare)
				checkMinAgree(ctx, t, net, nodes, secret, secretPath)
			} else if r := prioCall(t, http.MethodGet, base+"/recheck", "", "Authorization", "Bearer "+engineAdminToken); r.status != 403 {
				t.Fatalf("/recheck without engine.admin_token: %d %s, want 403 (off)", r.status, r.body)
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
	_, safe, final := net.Forkchoice()
	blk, _ := buildThrough(ctx, t, drv, net)
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

// buildThrough asks the multiplexer to build the next block
// (forkchoiceUpdated with attributes, which must be VALID, then
// getPayload) and returns it, with the time forkchoiceUpdated took.
func buildThrough(ctx context.Context, t *testing.T, drv *devnet.Driver, net *devnet.Net) (devnet.Block, time.Duration) {
	t.Helper()
	head, safe, final := net.Forkchoice()
	attrs := net.NextAttributes()
	start := time.Now()
	st, id, err := drv.ForkchoiceUpdated(ctx, head, safe, final, attrs)
	took := time.Since(start)
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
	return blk, took
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

// engineAdminToken is --admin-token in TestEngineAsProcess.
const engineAdminToken = "engine-admin-token-0123"

// fakeEL is an execution client that is always synced, answers INVALID to
// every newPayload and forkchoiceUpdated and 0x99 to eth_blockNumber, so any
// use of its answers shows; it counts the calls it gets by method. With hang
// set, its eth_syncing answers only when the caller gives up.
type fakeEL struct {
	srv   *httptest.Server
	hang  atomic.Bool
	mu    sync.Mutex
	calls map[string]int // by method
}

func newFakeEL(t *testing.T) *fakeEL {
	f := &fakeEL{calls: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEL) URL() string { return f.srv.URL }

func (f *fakeEL) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls[req.Method]++
	f.mu.Unlock()
	var result string
	switch {
	case req.Method == "eth_syncing" && f.hang.Load():
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		return
	case req.Method == "eth_syncing":
		result = "false"
	case req.Method == "eth_blockNumber":
		result = `"0x99"`
	case strings.HasPrefix(req.Method, "engine_newPayload"):
		result = `{"status":"INVALID","latestValidHash":null,"validationError":"fake node"}`
	case strings.HasPrefix(req.Method, "engine_forkchoiceUpdated"):
		result = `{"payloadStatus":{"status":"INVALID","latestValidHash":null,"validationError":"fake node"},"payloadId":null}`
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"method not found"}}`, req.ID)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, req.ID, result)
}

// count returns how many calls of methods starting with prefix f got.
func (f *fakeEL) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for m, c := range f.calls {
		if strings.HasPrefix(m, prefix) {
			n += c
		}
	}
	return n
}

// engineReport is executionbackup's status document (GET /metrics,
// /recheck, /add_nodes).
type engineReport struct {
	AliveNodes  []string `json:"alive_nodes"`
	DeadNodes   []string `json:"dead_nodes"`
	PrimaryNode string   `json:"primary_node"`
	RecheckTime *int64   `json:"recheck_time"`
}

func parseEngineReport(t *testing.T, what string, code int, body string) engineReport {
	t.Helper()
	var rep engineReport
	if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil {
		t.Fatalf("%s: %d %s (%v)", what, code, body, err)
	}
	return rep
}

// checkDoNotUse: the #do-not-use node got every newPayload and
// forkchoiceUpdated of the three blocks, yet every answer was VALID (its
// INVALID never counted), and it never served a single-node call nor is
// the primary, though it answers its probes fastest.
func checkDoNotUse(t *testing.T, base string, spare *fakeEL) {
	t.Helper()
	eventually(t, time.Minute, "the do-not-use node receiving every block's calls", func() bool {
		return spare.count("engine_newPayload") >= 3 && spare.count("engine_forkchoiceUpdated") >= 6
	})
	if n := spare.count("eth_blockNumber"); n != 0 {
		t.Fatalf("the do-not-use node served eth_blockNumber %d times", n)
	}
	code, body := get(t, base+"/metrics")
	if rep := parseEngineReport(t, "GET /metrics", code, body); rep.PrimaryNode == "" || rep.PrimaryNode == spare.URL() {
		t.Fatalf("primary node %q, want a voting node (do-not-use: %s)", rep.PrimaryNode, spare.URL())
	}
}

// checkEngineAdmin: /recheck and /add_nodes refuse a missing or wrong
// token with 401; with it, /recheck probes every node at once (the spare,
// made to hang, is dead after its own #timeout=300, not --timeout 20000)
// and /add_nodes adds a node that then receives the consensus client's
// calls; adding it again is refused.
func checkEngineAdmin(ctx context.Context, t *testing.T, base string, drv *devnet.Driver, net *devnet.Net, spare *fakeEL) {
	t.Helper()
	added := newFakeEL(t)
	addBody := `{"nodes":["` + added.URL() + `#do-not-use"]}`
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/recheck", ""}, {http.MethodPost, "/add_nodes", addBody},
	} {
		for _, auth := range []string{"", "Bearer wrong-token", engineAdminToken, "Basic " + engineAdminToken} {
			if r := prioCall(t, c.method, base+c.path, c.body, "Authorization", auth); r.status != 401 {
				t.Fatalf("%s with Authorization %q: %d %s, want 401", c.path, auth, r.status, r.body)
			}
		}
	}
	if added.count("") != 0 {
		t.Fatal("a refused /add_nodes added the node")
	}
	bearer := "Bearer " + engineAdminToken

	spare.hang.Store(true)
	start := time.Now()
	r := prioCall(t, http.MethodGet, base+"/recheck", "", "Authorization", bearer)
	took := time.Since(start)
	spare.hang.Store(false)
	rep := parseEngineReport(t, "GET /recheck", r.status, r.body)
	if !slices.Contains(rep.DeadNodes, spare.URL()) || len(rep.AliveNodes) != 2 || rep.RecheckTime == nil {
		t.Fatalf("/recheck with the spare hanging: %s", r.body)
	}
	if took > 10*time.Second {
		t.Fatalf("/recheck took %v: the spare's #timeout=300 did not bound its probe", took)
	}
	r = prioCall(t, http.MethodGet, base+"/recheck", "", "Authorization", bearer)
	if rep := parseEngineReport(t, "GET /recheck", r.status, r.body); !slices.Contains(rep.AliveNodes, spare.URL()) {
		t.Fatalf("/recheck after the spare answers again: %s", r.body)
	}

	r = prioCall(t, http.MethodPost, base+"/add_nodes", addBody, "Authorization", bearer)
	if rep := parseEngineReport(t, "POST /add_nodes", r.status, r.body); !slices.Contains(rep.AliveNodes, added.URL()) {
		t.Fatalf("/add_nodes: %s", r.body)
	}
	if r := prioCall(t, http.MethodPost, base+"/add_nodes", addBody, "Authorization", bearer); r.status != 400 || !strings.Contains(r.body, "already a node") {
		t.Fatalf("/add_nodes of a node already there: %d %s", r.status, r.body)
	}
	head, safe, final := net.Forkchoice()
	if st, _, err := drv.ForkchoiceUpdated(ctx, head, safe, final, nil); err != nil || st.Status != devnet.StatusValid {
		t.Fatalf("forkchoiceUpdated after /add_nodes: %v %v", st, err)
	}
	eventually(t, time.Minute, "the added node receiving forkchoiceUpdated", func() bool {
		return added.count("engine_forkchoiceUpdated") == 1
	})
}

// checkMinAgree runs a second `evmgate engine` in front of the same two
// nodes with --min-agree 3: both synced and agreeing, its answer is
// SYNCING where the first process, with --min-agree 1, answers VALID.
func checkMinAgree(ctx context.Context, t *testing.T, net *devnet.Net, nodes []*devnet.Node, secret []byte, secretPath string) {
	t.Helper()
	var specs []string
	for _, n := range nodes {
		specs = append(specs, n.AuthURL()+"#jwt-secret="+n.JWTSecretPath())
	}
	port := freePort(t)
	p := startProc(t, nil, "engine", "--nodes", strings.Join(specs, ","), "--jwt-secret", secretPath,
		"--port", itoa(port), "--min-agree", "3")
	p.waitOutput(p.stderr, "engine API multiplexer started", time.Minute)
	base := "http://" + addr(port)
	eventually(t, time.Minute, "both nodes alive behind --min-agree 3", func() bool {
		code, body := get(t, base+"/metrics")
		return len(parseEngineReport(t, "GET /metrics", code, body).AliveNodes) == 2
	})
	drv := devnet.NewDriver(base, secret)
	defer drv.Close()
	head, safe, final := net.Forkchoice()
	if st, _, err := drv.ForkchoiceUpdated(ctx, head, safe, final, nil); err != nil || st.Status != devnet.StatusSyncing {
		t.Fatalf("forkchoiceUpdated with --min-agree 3 and two nodes: %v %v, want SYNCING", st, err)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// `evmgate engine` with a voting node that is down and a #do-not-use node
// that answers: the do-not-use node receives forkchoiceUpdated but its
// INVALID is no vote, so the answer is SYNCING; it is never the primary and
// never answers eth_*, which fail rather than come from it.
func TestEngineDoNotUseAsProcess(t *testing.T) {
	spare := newFakeEL(t)
	secret, secretPath := hexSecret(t, t.TempDir(), "cl.hex")
	port, down := freePort(t), "http://"+addr(freePort(t))
	p := startProc(t, nil, "engine", "--nodes", down+","+spare.URL()+"#do-not-use", "--jwt-secret", secretPath,
		"--port", itoa(port))
	p.waitOutput(p.stderr, "engine API multiplexer started", 2*time.Minute)
	base := "http://" + addr(port)
	var rep engineReport
	eventually(t, time.Minute, "the first probes", func() bool {
		code, body := get(t, base+"/metrics")
		rep = parseEngineReport(t, "GET /metrics", code, body)
		return slices.Contains(rep.DeadNodes, down) && slices.Contains(rep.AliveNodes, spare.URL())
	})
	if rep.PrimaryNode != "" {
		t.Fatalf("primary node %q, want none: the only voting node is down", rep.PrimaryNode)
	}
	drv := devnet.NewDriver(base, secret)
	defer drv.Close()
	if raw, err := drv.Call(t.Context(), "eth_blockNumber"); err == nil || spare.count("eth_blockNumber") != 0 {
		t.Fatalf("eth_blockNumber with only a do-not-use node up: %s %v, %d calls at it", raw, err, spare.count("eth_blockNumber"))
	}
	st, _, err := drv.ForkchoiceUpdated(t.Context(), common.Hash{1}, common.Hash{}, common.Hash{}, nil)
	if err != nil || st.Status != devnet.StatusSyncing {
		t.Fatalf("forkchoiceUpdated: %v %v, want SYNCING", st, err)
	}
	eventually(t, time.Minute, "the do-not-use node receiving forkchoiceUpdated", func() bool {
		return spare.count("engine_forkchoiceUpdated") == 1
	})
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// TestEngineNodeTimeoutAsProcess: --timeout (flags) and engine.node_timeout
// (YAML) bound a call to a node that sets no #timeout of its own. Both are
// set to a minute here; a node that never answers its probe must still be
// waited on after 5 s, past the 4 s default. (#timeout=300, shorter than
// the default, is checked for effect in TestEngineAsProcess.)
func TestEngineNodeTimeoutAsProcess(t *testing.T) {
	for _, form := range []string{"flags", "yaml"} {
		t.Run(form, func(t *testing.T) {
			type call struct {
				start time.Time
				done  <-chan struct{}
			}
			calls := make(chan call, 16)
			release := make(chan struct{})
			hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// Read to the end: only then does the server notice the
				// gateway closing the connection, and end r's context.
				_, _ = io.Copy(io.Discard, r.Body)
				calls <- call{time.Now(), r.Context().Done()}
				select {
				case <-r.Context().Done(): // the gateway gave up on the call
				case <-release:
				}
			}))
			defer hang.Close()
			defer close(release)
			dir := t.TempDir()
			_, secretPath := hexSecret(t, dir, "cl.hex")
			port := freePort(t)
			if form == "flags" {
				startProc(t, nil, "engine", "--nodes", hang.URL+"#jwt-secret="+secretPath, "--jwt-secret", secretPath,
					"--port", itoa(port), "--listen-addr", "127.0.0.1", "--timeout", "60000")
			} else {
				cfg := filepath.Join(dir, "engine.yaml")
				writeFile(t, cfg, "metrics_port: -1\nengine:\n  enabled: true\n  listen_addr: "+addr(port)+
					"\n  jwt_secret: "+secretPath+"\n  node_timeout: 60s\n  nodes:\n    - url: "+hang.URL+"\n")
				startProc(t, nil, "-config", cfg)
			}
			var c call
			select {
			case c = <-calls: // the first probe
			case <-time.After(time.Minute):
				t.Fatal("the node was never probed")
			}
			select {
			case <-c.done:
				t.Fatalf("the gateway gave up on the node after %v, want the configured minute", time.Since(c.start).Round(time.Millisecond))
			case <-time.After(time.Until(c.start.Add(5 * time.Second))):
			}
		})
	}
}
