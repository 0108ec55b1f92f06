package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
)

// waitCount waits until stream holds substr at least n times and returns
// the text so far.
func (p *proc) waitCount(stream *syncBuf, substr string, n int, within time.Duration) string {
	p.t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		text, changed := stream.snapshot()
		if strings.Count(text, substr) >= n {
			return text
		}
		select {
		case <-changed:
		case <-p.done:
			p.t.Fatalf("evmgate exited (code %d) before printing %q %d times\nstderr:\n%s", p.exitCode, substr, n, p.stderr)
		case <-timer.C:
			p.t.Fatalf("evmgate did not print %q %d times within %v\nstderr:\n%s", substr, n, within, p.stderr)
		}
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("%v: %v", sig, err)
	}
}

// replaceFile saves text over path the way editors do: a new file renamed
// over the old one.
func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeFile(t, tmp, text)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// fakeNodesYAML lists fake nodes under tier, each with extra keys.
func fakeNodesYAML(tier, extra string, nodes ...*fakenode.Node) string {
	var b strings.Builder
	b.WriteString("    " + tier + ":\n")
	for _, n := range nodes {
		fmt.Fprintf(&b, "      - rpc_endpoint: %q\n        name: %s\n%s", n.URL(), n.Name, extra)
	}
	return b.String()
}

// listeners is the top of a configuration: both listeners on 127.0.0.1.
func listeners(rpcPort, metricsPort int) string {
	return fmt.Sprintf("listen_addr: 127.0.0.1\nport: %d\nmetrics_addr: 127.0.0.1\nmetrics_port: %d\nlog_requests: false\n", rpcPort, metricsPort)
}

const clientVersion = `{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}`

// callLoad posts body to url from clients goroutines until stopped and
// counts the calls and the failures (anything but 200 with a result).
type callLoad struct {
	calls, failed atomic.Int64
	mu            sync.Mutex // mu protects first
	first         string
	stop          chan struct{}
	wg            sync.WaitGroup
}

func startCalls(l *callLoad, url, body string, clients int) *callLoad {
	if l == nil {
		l = &callLoad{stop: make(chan struct{})}
	}
	for range clients {
		l.wg.Go(func() {
			c := &http.Client{Timeout: time.Minute}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				l.one(c, url, body)
			}
		})
	}
	return l
}

func (l *callLoad) one(c *http.Client, url, body string) {
	l.calls.Add(1)
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		l.fail(err.Error())
		return
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(b.String(), `"result"`) {
		l.fail(fmt.Sprintf("%s: %d %s", url, resp.StatusCode, b.String()))
	}
}

func (l *callLoad) fail(msg string) {
	l.failed.Add(1)
	l.mu.Lock()
	if l.first == "" {
		l.first = msg
	}
	l.mu.Unlock()
}

// end stops the load and waits for the calls in flight; it may be called twice.
func (l *callLoad) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// metricLine returns the value of series on the metrics listener.
func metricLine(t *testing.T, metricsURL, series string) string {
	t.Helper()
	_, body := get(t, metricsURL+"/metrics")
	for l := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// A file that fails validation is refused on reload with the error
// `evmgate validate` prints, logged and counted, and the running
// configuration goes on serving; the fixed file is then taken.
func TestReloadRefusesBadFileAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	good := listeners(rpcPort, metricsPort) + "networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n" + fakeNodesYAML("local_nodes", "", f[0])
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, good)
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	rpcURL, metricsURL := "http://"+addr(rpcPort)+"/mainnet", "http://"+addr(metricsPort)
	l := startCalls(nil, rpcURL, clientVersion, 3)
	defer l.end()

	bad := good + "    strategy: fastest\n    rpc_timout: 2s\n" + fakeNodesYAML("fallback_nodes", "", f[1])
	badPath := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, badPath, bad)
	code, _, validateOut := runProc(t, "validate", "-config", badPath)
	want := strings.TrimSuffix(strings.TrimPrefix(validateOut, "evmgate: "), "\n")
	if code == 0 || want == "" {
		t.Fatalf("validate accepted the bad file (exit %d): %s", code, validateOut)
	}
	want = strings.ReplaceAll(want, badPath, path) // validate names the file it read

	replaceFile(t, path, bad)
	text := p.waitOutput(p.stderr, "configuration reload refused", time.Minute)
	if !strings.Contains(text, "err="+strconv.Quote(want)) {
		t.Fatalf("the reload error is not validate's:\nvalidate: %s\nlog:\n%s", want, grepLines(text, "reload refused"))
	}
	if got := metricLine(t, metricsURL, `evmgate_config_reloads_total{result="error"}`); got != "1" {
		t.Fatalf("error reloads metric = %q, want 1", got)
	}
	if got := metricLine(t, metricsURL, "evmgate_config_last_reload_successful"); got != "0" {
		t.Fatalf("last reload successful = %q, want 0", got)
	}
	// Still the old configuration: fake1 was only in the bad file.
	before := l.calls.Load()
	eventually(t, time.Minute, "100 more calls after the refused reload", func() bool { return l.calls.Load() > before+100 })
	if f[1].Calls("web3_clientVersion") != 0 {
		t.Fatal("a node of the refused file got calls")
	}

	replaceFile(t, path, good+fakeNodesYAML("fallback_nodes", "", f[1]))
	p.waitOutput(p.stderr, "configuration reloaded", time.Minute)
	if got := metricLine(t, metricsURL, `evmgate_config_reloads_total{result="ok"}`); got != "1" {
		t.Fatalf("ok reloads metric = %q, want 1", got)
	}
	l.end()
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed; first: %s", n, l.calls.Load(), l.first)
	}
	if code, took := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM (%v)", code, took)
	}
}

// A reload that changes the listener's port logs that the key needs a
// restart; the old port keeps serving and the rest of the file is taken.
func TestReloadListenerNeedsRestartAsProcess(t *testing.T) {
	f := fakeNodes(t, 2, 1)
	rpcPort, metricsPort, otherPort := freePort(t), freePort(t), freePort(t)
	nets := "networks:\n  - name: mainnet\n    local_poll_interval: 100ms\n"
	path := filepath.Join(t.TempDir(), "evmgate.yaml")
	writeFile(t, path, listeners(rpcPort, metricsPort)+nets+fakeNodesYAML("local_nodes", "", f[0]))
	p := startProc(t, nil, "-config", path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)

	writeFile(t, path, listeners(otherPort, metricsPort)+nets+fakeNodesYAML("local_nodes", "", f[1]))
	p.signal(syscall.SIGHUP)
	text := p.waitOutput(p.stderr, "only a restart applies", time.Minute)
	if !strings.Contains(grepLines(text, "only a restart applies"), `keys=port`) {
		t.Fatalf("the restart warning does not name the key:\n%s", grepLines(text, "restart"))
	}
	if code, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", clientVersion); code != 200 {
		t.Fatalf("the old port after the reload: %d %s", code, body)
	}
	if !refused(addr(otherPort)) {
		t.Fatal("the new port listens: the listener cannot change without a restart")
	}
	eventually(t, time.Minute, "the new node to serve", func() bool {
		_, body := rpc(t, "http://"+addr(rpcPort)+"/mainnet", clientVersion)
		return strings.Contains(body, `"result":"fake1"`)
	})
	if code, took := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM (%v)", code, took)
	}
}
