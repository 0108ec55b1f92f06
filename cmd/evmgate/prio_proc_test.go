package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/redistest"
)

// The tests below run `evmgate prio` as mev-boost-relay's operators run
// flashbots prio-load-balancer: configured by its environment variables or
// its flags, called at POST / and POST /sim with its headers, nodes managed
// at /nodes on the same port, the node list taken over from its Redis.

const validateMethod = "flashbots_validateBuilderSubmissionV3"

// validateBody is a block-validation call as the relay sends it, with a
// payload of about size bytes.
func validateBody(id string, size int) string {
	return `{"jsonrpc":"2.0","id":` + id + `,"method":"` + validateMethod + `","params":[{"execution_payload":{"transactions":["0x` +
		strings.Repeat("ab", size/2) + `"]}}]}`
}

type prioReply struct {
	status int
	body   string
	header http.Header
}

// prioCall posts body to url with header pairs.
func prioCall(t *testing.T, method, url, body string, hdr ...string) prioReply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] != "" {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return prioReply{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return prioReply{resp.StatusCode, string(b), resp.Header}
}

// checkPrioHeaders fails unless the five X-PrioLB headers are whole numbers.
func checkPrioHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for _, k := range []string{"X-PrioLB-QueueDurationUs", "X-PrioLB-SimDurationUs", "X-PrioLB-TotalDurationUs",
		"X-PrioLB-QueueSizeStart", "X-PrioLB-QueueSizeEnd"} {
		if _, err := strconv.ParseUint(h.Get(k), 10, 64); err != nil {
			t.Errorf("%s: %s = %q, want a whole number", what, k, h.Get(k))
		}
	}
}

// nodeList reads GET /nodes, with header pairs such as an Authorization.
func nodeList(t *testing.T, base string, hdr ...string) []string {
	t.Helper()
	r := prioCall(t, http.MethodGet, base+"/nodes", "", hdr...)
	var uris []string
	if err := json.Unmarshal([]byte(r.body), &uris); r.status != 200 || err != nil {
		t.Fatalf("GET /nodes: %d %s (%v)", r.status, r.body, err)
	}
	return uris
}

// Configured by environment variables alone, as in prio-load-balancer's
// Docker image: block-validation calls on /sim and / with its priority
// headers (the legacy high_prio too), its response headers, its answers to
// a body too large and to GET /, and every variable in the logged settings.
func TestPrioAsProcessEnvironment(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	port, metricsPort := freePort(t), freePort(t)
	env := []string{
		"LISTEN_ADDR=" + addr(port), "NODES=" + f[0].URL() + "?_workers=1," + f[1].URL(),
		"RETRIES_MAX=2", "PAYLOAD_MAX_KB=64", "REQUEST_TIMEOUT=30", "REQUEST_PROXY_TIMEOUT=10",
		"NUM_NODE_WORKERS=3", "ITEMS_FASTTRACK_MAX=5", "ITEMS_HIGHPRIO_MAX=6", "ITEMS_LOWPRIO_MAX=7",
		"ITEMS_FASTTRACK_PER_HIGHPRIO=4", "FASTTRACK_DRAIN_FIRST=1", "LOG_PROD=1", "LOG_SERVICE=validation-queue",
		"METRICS_ADDR=" + addr(metricsPort), "JOB_CHAN_BUFFER=2", "REDIS_URI=dev",
	}
	p := startProc(t, env, "prio")
	logs := p.waitOutput(p.stderr, `"msg":"gateway started"`, 2*time.Minute)
	for _, want := range []string{
		`"service":"validation-queue"`, `"msg":"prio-load-balancer settings"`, `"nodes":2`, `"node_workers":3`,
		`"tries":2`, `"try_timeout":"10s"`, `"request_timeout":"40s"`, `"max_body_bytes":65536`,
		`"max_queued_fast_track":5`, `"max_queued_high":6`, `"max_queued_low":7`, `"fast_track_per_high":4`,
		`"drain_fast_track_first":true`, `"store":"memory"`, `"metrics":true`, `"vars":["JOB_CHAN_BUFFER"]`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("start-up logs lack %s", want)
		}
	}
	base := "http://" + addr(port)
	for i, c := range []struct{ path, hdr, class string }{
		{"/sim", "X-High-Priority", "high"}, {"/", "high_prio", "high"}, {"/sim", "X-Fast-Track", "fast_track"}, {"/", "", "low"},
	} {
		id := fmt.Sprintf(`"%d/0xabc%d"`, 123, i)
		reqID := fmt.Sprintf("123/0xabc%d", i)
		r := prioCall(t, http.MethodPost, base+c.path, validateBody(id, 40_000), c.hdr, "true", "X-Request-ID", reqID)
		if r.status != 200 || r.body != `{"jsonrpc":"2.0","id":`+id+`,"result":null}` {
			t.Fatalf("%s with %s: %d %s", c.path, c.hdr, r.status, r.body)
		}
		checkPrioHeaders(t, c.path, r.header)
		if got := r.header.Get("X-Request-Id"); got != reqID {
			t.Errorf("X-Request-Id %q, want %q", got, reqID)
		}
		p.waitOutput(p.stderr, `"req_id":"`+reqID+`"`, time.Minute)
		if line := lineWith(p.stderr.String(), `"req_id":"`+reqID+`"`); !strings.Contains(line, `"class":"`+c.class+`"`) ||
			!strings.Contains(line, `"method":"`+validateMethod+`"`) {
			t.Errorf("request log %s, want class %s", line, c.class)
		}
	}
	r := prioCall(t, http.MethodPost, base+"/sim", validateBody("9", 70_000))
	if r.status != 400 || !strings.HasPrefix(r.body, "Payload too large") || r.header.Get("X-PrioLB-TotalDurationUs") != "" {
		t.Errorf("body over PAYLOAD_MAX_KB: %d %q", r.status, r.body)
	}
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, "prio-load-balancer") {
		t.Errorf("GET /: %d %q", code, body)
	}
	if got := nodeList(t, base); !slices.Equal(got, []string{f[0].URL() + "?_workers=1", f[1].URL()}) {
		t.Errorf("GET /nodes: %v", got)
	}
	if code, body := get(t, "http://"+addr(metricsPort)+"/metrics"); code != 200 || !strings.Contains(body, `evmgate_queue_capacity{class="low",network="default"} 7`) {
		t.Errorf("metrics: %d", code)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

func lineWith(text, substr string) string {
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, substr) {
			return line
		}
	}
	return ""
}

// queueDepthOf reads evmgate_queue_depth of a class from the metrics port.
func queueDepthOf(t *testing.T, metricsBase, class string) string {
	_, body := get(t, metricsBase+"/metrics")
	prefix := `evmgate_queue_depth{class="` + class + `",network="default"} `
	return strings.TrimPrefix(lineWith(body, prefix), prefix)
}

// Configured by flags: a node with ?_workers=1 takes one call at a time;
// while it is busy, calls queue by class and reach it fast-track first,
// then high (X-High-Priority and the legacy high_prio), then low, each
// class in arrival order, and X-PrioLB-QueueSizeStart tells each call's
// place in its class queue.
func TestPrioAsProcessPriorities(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	f[0].Hold(validateMethod)
	f[0].Record(validateMethod)
	t.Cleanup(func() { f[0].Release(validateMethod) })
	port, metricsPort := freePort(t), freePort(t)
	p := startProc(t, nil, "prio", "-http", addr(port), "-nodes", f[0].URL()+"?_workers=1", "-metrics", addr(metricsPort),
		"-low-max-wait", "10m", "-request-timeout", "120", "-request-proxy-timeout", "120")
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base, metrics := "http://"+addr(port), "http://"+addr(metricsPort)

	var mu sync.Mutex
	starts := map[string]string{}
	var wg sync.WaitGroup
	send := func(id, hdr string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := prioCall(t, http.MethodPost, base+"/sim", validateBody(`"`+id+`"`, 1000), hdr, "true")
			if r.status != 200 {
				t.Errorf("%s: %d %s", id, r.status, r.body)
				return
			}
			checkPrioHeaders(t, id, r.header)
			mu.Lock()
			starts[id] = r.header.Get("X-PrioLB-QueueSizeStart")
			mu.Unlock()
		}()
	}
	send("busy", "")
	eventually(t, time.Minute, "the first call at the node", func() bool { return len(f[0].Arrivals(validateMethod)) == 1 })
	for _, c := range []struct{ id, hdr, class, depth string }{
		{"low1", "", "low", "1"}, {"low2", "", "low", "2"}, {"high1", "X-High-Priority", "high", "1"},
		{"high2", "high_prio", "high", "2"}, {"fast1", "X-Fast-Track", "fast_track", "1"},
	} {
		send(c.id, c.hdr)
		eventually(t, time.Minute, c.id+" queued", func() bool { return queueDepthOf(t, metrics, c.class) == c.depth })
	}
	f[0].Release(validateMethod)
	wg.Wait()
	want := []string{`"busy"`, `"fast1"`, `"high1"`, `"high2"`, `"low1"`, `"low2"`}
	if got := f[0].Arrivals(validateMethod); !slices.Equal(got, want) {
		t.Fatalf("order at the node %v, want %v", got, want)
	}
	wantStarts := map[string]string{"busy": "0", "fast1": "1", "high1": "1", "high2": "2", "low1": "1", "low2": "2"}
	for id, w := range wantStarts {
		if starts[id] != w {
			t.Errorf("%s: X-PrioLB-QueueSizeStart %q, want %s (all %v)", id, starts[id], w, starts)
		}
	}
}

// /nodes on the calls' port, as prio-load-balancer serves it: the mock
// node, removing it (calls then fail with prio-load-balancer's plain 500),
// adding a node with ?_workers=, adding it again (200), removing it twice
// (the second time 404). Serving /nodes beyond loopback without a token is
// refused at start, naming the fix.
func TestPrioAsProcessNodesAPI(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	port, mockPort := freePort(t), freePort(t)
	p := startProc(t, nil, "prio", "-http", addr(port), "-mock-node", "-mock-node-addr", addr(mockPort))
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base, mock := "http://"+addr(port), "http://"+addr(mockPort)
	if got := nodeList(t, base); !slices.Equal(got, []string{mock}) {
		t.Fatalf("nodes with -mock-node: %v", got)
	}
	r := prioCall(t, http.MethodPost, base+"/", `{"jsonrpc":"2.0","method":"eth_callBundle","params":[],"id":1}`)
	if r.status != 200 || r.body != `{"jsonrpc":"2.0","id":1,"result":"cool"}`+"\n" {
		t.Fatalf("mock node: %d %q", r.status, r.body)
	}
	if r := prioCall(t, http.MethodDelete, base+"/nodes", `{"uri":"`+mock+`"}`); r.status != 200 {
		t.Fatalf("DELETE the mock: %d %s", r.status, r.body)
	}
	r = prioCall(t, http.MethodPost, base+"/sim", validateBody("1", 100))
	if r.status != 500 || !strings.Contains(r.body, "no node") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("call without nodes: %d %s %v", r.status, r.body, r.header)
	}
	uri := f[0].URL() + "?_workers=2"
	for range 2 {
		if r := prioCall(t, http.MethodPost, base+"/nodes", `{"uri":"`+uri+`"}`); r.status != 200 {
			t.Fatalf("POST /nodes: %d %s", r.status, r.body)
		}
	}
	if got := nodeList(t, base); !slices.Equal(got, []string{uri}) {
		t.Fatalf("nodes after POST: %v", got)
	}
	eventually(t, time.Minute, "a call answered by the added node", func() bool {
		r := prioCall(t, http.MethodPost, base+"/sim", validateBody("2", 100))
		return r.status == 200 && r.body == `{"jsonrpc":"2.0","id":2,"result":null}`
	})
	if r := prioCall(t, http.MethodDelete, base+"/nodes", `{"uri":"`+uri+`"}`); r.status != 200 || len(nodeList(t, base)) != 0 {
		t.Fatalf("DELETE /nodes: %d %s", r.status, r.body)
	}
	if r := prioCall(t, http.MethodDelete, base+"/nodes", `{"uri":"`+uri+`"}`); r.status != 404 || !strings.Contains(r.body, "node not found") {
		t.Fatalf("DELETE of a node not there: %d %s", r.status, r.body)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}

	open := freePort(t)
	code, _, stderr := runProc(t, "prio", "-http", fmt.Sprintf("0.0.0.0:%d", open), "-nodes", f[0].URL())
	if code != 1 || !strings.Contains(stderr, "-admin-token (ADMIN_TOKEN)") {
		t.Fatalf("open listener without a token: exit %d, %s", code, stderr)
	}
}

// With -admin-token or ADMIN_TOKEN, /nodes needs "Authorization: Bearer
// <token>": without it, with a wrong one or with the token of the variable
// the flag overrides, listing, adding and removing get 401 and change
// nothing; with it they work. Calls need no token. A flag wins over its
// variable: -log-level debug over LOG_LEVEL=ERROR gives debug lines.
func TestPrioAsProcessAdminToken(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	const flagToken, envToken = "flag-admin-token-0123", "env-admin-token-01234"
	for _, form := range []string{"flag", "variable"} {
		t.Run(form, func(t *testing.T) {
			port := freePort(t)
			var p *proc
			token := envToken
			if form == "flag" {
				token = flagToken
				p = startProc(t, []string{"ADMIN_TOKEN=" + envToken, "LOG_LEVEL=ERROR"}, "prio", "-http", addr(port),
					"-nodes", f[0].URL(), "-admin-token", flagToken, "-log-level", "debug")
			} else {
				p = startProc(t, []string{"ADMIN_TOKEN=" + envToken, "LISTEN_ADDR=" + addr(port), "NODES=" + f[0].URL()}, "prio")
			}
			p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
			base := "http://" + addr(port)
			r := prioCall(t, http.MethodPost, base+"/sim", validateBody("1", 100))
			if r.status != 200 || r.body != `{"jsonrpc":"2.0","id":1,"result":null}` {
				t.Fatalf("a call without a token: %d %s", r.status, r.body)
			}
			if form == "flag" {
				p.waitOutput(p.stderr, "request added to queue", time.Minute) // a debug line
			}
			bad := []string{"", "Bearer wrong-admin-token-0000", token, "Basic " + token}
			if form == "flag" {
				bad = append(bad, "Bearer "+envToken)
			}
			add, remove := `{"uri":"`+f[1].URL()+`"}`, `{"uri":"`+f[0].URL()+`"}`
			for _, auth := range bad {
				for _, c := range []struct{ method, body string }{
					{http.MethodGet, ""}, {http.MethodPost, add}, {http.MethodDelete, remove},
				} {
					if r := prioCall(t, c.method, base+"/nodes", c.body, "Authorization", auth); r.status != 401 {
						t.Fatalf("%s /nodes with Authorization %q: %d %s, want 401", c.method, auth, r.status, r.body)
					}
				}
			}
			bearer := "Bearer " + token
			if got := nodeList(t, base, "Authorization", bearer); !slices.Equal(got, []string{f[0].URL()}) {
				t.Fatalf("nodes after refused changes: %v", got)
			}
			if r := prioCall(t, http.MethodPost, base+"/nodes", add, "Authorization", bearer); r.status != 200 {
				t.Fatalf("POST /nodes with the token: %d %s", r.status, r.body)
			}
			if r := prioCall(t, http.MethodDelete, base+"/nodes", remove, "Authorization", bearer); r.status != 200 {
				t.Fatalf("DELETE /nodes with the token: %d %s", r.status, r.body)
			}
			if got := nodeList(t, base, "Authorization", bearer); !slices.Equal(got, []string{f[1].URL()}) {
				t.Fatalf("nodes after adding and removing with the token: %v", got)
			}
			if code, took := p.terminate(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
			}
		})
	}
}

// The node list prio-load-balancer kept in a real Redis (its key under
// REDIS_PREFIX, a JSON array of URIs) is imported at start; a node added
// through /nodes is kept in the same Redis and is there after a restart,
// with the imported ones. The first start names Redis by variables, the
// second by flags.
func TestPrioAsProcessRedisImport(t *testing.T) {
	srv := redistest.New(t)
	srv.Start()
	f := fakeNodes(t, 3, 1)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	stored := []string{f[0].URL(), f[1].URL() + "?_workers=3"}
	raw, _ := json.Marshal(stored)
	if err := rdb.Set(context.Background(), "relay-a:prio-load-balancer:nodes", raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	base := "http://" + addr(port)
	p := startProc(t, []string{"LISTEN_ADDR=" + addr(port), "REDIS_URI=" + srv.Addr(), "REDIS_PREFIX=relay-a:"}, "prio")
	logs := p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if line := lineWith(logs, "imported prio-load-balancer's node list from redis"); !strings.Contains(line, "nodes=2") ||
		!strings.Contains(line, "key=relay-a:prio-load-balancer:nodes") {
		t.Fatalf("import log line %q", line)
	}
	if got := nodeList(t, base); !slices.Equal(got, stored) {
		t.Fatalf("nodes after the import: %v, want %v", got, stored)
	}
	if r := prioCall(t, http.MethodPost, base+"/sim", validateBody("1", 100), "X-High-Priority", "true"); r.status != 200 {
		t.Fatalf("call: %d %s", r.status, r.body)
	}
	if r := prioCall(t, http.MethodPost, base+"/nodes", `{"uri":"`+f[2].URL()+`"}`); r.status != 200 {
		t.Fatalf("POST /nodes: %d %s", r.status, r.body)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
	keys, err := rdb.Keys(context.Background(), "relay-a:evmgate:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("evmgate's registry keys under relay-a:evmgate: %v %v", keys, err)
	}

	p = startProc(t, nil, "prio", "-http", addr(port), "-redis", srv.URL(), "-redis-prefix", "relay-a:")
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if got, want := nodeList(t, base), append(stored, f[2].URL()); !slices.Equal(got, want) {
		t.Fatalf("nodes after a restart: %v, want %v", got, want)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// The same from a YAML file: a network's paths answer as
// prio-load-balancer's, and admin.on_rpc serves /nodes on the calls' port.
func TestPrioPathsFromYAMLAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	port := freePort(t)
	yaml := "listen_addr: 127.0.0.1\nport: " + itoa(port) + "\nmetrics_port: -1\nadmin:\n  on_rpc: true\nnetworks:\n" +
		"  - name: mainnet\n    paths: [\"/\", \"/sim\"]\n    local_nodes:\n      - rpc_endpoint: " + f[0].URL() + "?_workers=4\n"
	cfg := t.TempDir() + "/evmgate.yaml"
	writeFile(t, cfg, yaml)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base := "http://" + addr(port)
	for _, path := range []string{"/sim", "/"} {
		r := prioCall(t, http.MethodPost, base+path, validateBody("1", 1000), "X-Fast-Track", "true")
		if r.status != 200 || r.body != `{"jsonrpc":"2.0","id":1,"result":null}` {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		checkPrioHeaders(t, path, r.header)
	}
	r := prioCall(t, http.MethodPost, base+"/mainnet", validateBody("1", 1000))
	if r.status != 200 || r.header.Get("X-PrioLB-TotalDurationUs") != "" {
		t.Fatalf("/mainnet: %d %v", r.status, r.header)
	}
	if code, _ := get(t, base+"/"); code != 200 {
		t.Fatalf("GET /: %d", code)
	}
	if got := nodeList(t, base); !slices.Equal(got, []string{f[0].URL() + "?_workers=4"}) {
		t.Fatalf("GET /nodes: %v", got)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}
}

// `evmgate prio -h` lists every flag with its variable; a bad value stops
// the start with exit 1, naming the flag and the variable.
func TestPrioShortCommandsAsProcess(t *testing.T) {
	code, _, stderr := runProc(t, "prio", "-h")
	if code != 0 || !strings.HasPrefix(stderr, "usage: evmgate prio") || !strings.Contains(stderr, "ITEMS_FASTTRACK_PER_HIGHPRIO") {
		t.Fatalf("prio -h: exit %d, %s", code, stderr)
	}
	code, _, stderr = runProc(t, "prio", "-node-workers", "0")
	if code != 1 || !strings.Contains(firstLine(stderr), "-node-workers (NUM_NODE_WORKERS)") {
		t.Fatalf("prio -node-workers 0: exit %d, %s", code, stderr)
	}
	code, _, stderr = runProc(t, "prio", "-redis", "127.0.0.1:1", "-http", addr(freePort(t)))
	if code != 1 || !strings.Contains(stderr, "-redis, REDIS_URI") {
		t.Fatalf("prio with Redis unreachable: exit %d, %s", code, stderr)
	}
	code, _, stderr = runProc(t, "prio", "-method-timeouts", "flashbots_validate?=10s", "-http", addr(freePort(t)))
	if code != 1 || !strings.Contains(stderr, `-method-timeouts (METHOD_TIMEOUTS): "flashbots_validate?" is not a method or a prefix`) {
		t.Fatalf("prio with a bad -method-timeouts entry: exit %d, %s", code, stderr)
	}
}

// METHOD_TIMEOUTS gives block validation a try timeout of its own: a
// validation the node takes 1.5 s over is answered, past
// REQUEST_PROXY_TIMEOUT and the whole budget of other calls, and sent
// once; another method held as long times out at REQUEST_PROXY_TIMEOUT.
func TestPrioMethodTimeoutsAsProcess(t *testing.T) {
	f := fakeNodes(t, 1, 1)
	port := freePort(t)
	env := []string{"LISTEN_ADDR=" + addr(port), "NODES=" + f[0].URL(), "REQUEST_PROXY_TIMEOUT=300ms", "REQUEST_TIMEOUT=500ms",
		"RETRIES_MAX=1", "METHOD_TIMEOUTS=flashbots_validate*=20s"}
	p := startProc(t, env, "prio")
	logs := p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	if line := lineWith(logs, "prio-load-balancer settings"); !strings.Contains(line, "method_timeouts=map[flashbots_validate*:20s]") {
		t.Errorf("the settings line does not show the method timeouts: %s", line)
	}
	base := "http://" + addr(port)
	f[0].Record(validateMethod)
	f[0].Hold(validateMethod)
	t.Cleanup(func() { f[0].Release(validateMethod) })
	done := make(chan prioReply, 1)
	go func() {
		done <- prioCall(t, http.MethodPost, base+"/sim", validateBody("1", 1000), "X-High-Priority", "true")
	}()
	eventually(t, time.Minute, "the validation to reach the node", func() bool { return len(f[0].Arrivals(validateMethod)) == 1 })
	time.Sleep(1500 * time.Millisecond) // the node's work: past the other calls' 800ms budget
	f[0].Release(validateMethod)
	if r := <-done; r.status != 200 || r.body != `{"jsonrpc":"2.0","id":1,"result":null}` {
		t.Fatalf("a validation held 1.5 s: %d %s", r.status, r.body)
	}
	if got := f[0].Calls(validateMethod); got != 1 {
		t.Errorf("the validation was sent %d times, want once", got)
	}
	f[0].Hold("eth_callBundle")
	t.Cleanup(func() { f[0].Release("eth_callBundle") })
	r := prioCall(t, http.MethodPost, base+"/sim", `{"jsonrpc":"2.0","id":2,"method":"eth_callBundle","params":[{}]}`)
	if r.status != 500 || !strings.Contains(r.body, "rpc_timeout") {
		t.Errorf("eth_callBundle held on the node: %d %q, want 500 naming the try timeout", r.status, r.body)
	}
}
