//go:build !nodemo

package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/fakenode"
)

// The configuration is rewritten ten times under load, alternating a change
// on disk (the file is a symlink, replaced the way a Kubernetes ConfigMap
// is) and SIGHUP (the symlink's target rewritten where no watch sees it):
// fake nodes added and removed, a weight and the strategy, a network added
// and removed, the log level, and the real go-ethereum nodes of another
// network re-weighted, removed and added back. HTTP clients on both
// networks see no failed call, a newHeads subscription over WebSocket gets
// every block, and each change takes effect.
func TestReloadUnderLoadAsProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	dn, err := devnet.Start(ctx, devnet.Config{Nodes: 2, BlockPeriod: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dn.Close() })
	f := fakeNodes(t, 4, 1)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cf := newConfigFiles(t)
	c := reloadConfig{top: listeners(rpcPort, metricsPort), dn: dn, churn: []*fakenode.Node{f[0], f[1]}, level: "INFO"}
	cf.replace(c.text())
	p := startProc(t, nil, "-config", cf.path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	base, metricsURL := "http://"+addr(rpcPort), "http://"+addr(metricsPort)

	heads := watchHeads(ctx, t, "ws://"+addr(rpcPort)+"/dev")
	l := startCalls(nil, base+"/churn", clientVersion, 3)
	startCalls(l, base+"/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`, 2)
	defer l.end()

	var took []time.Duration
	step := func(what string, change func()) {
		t.Helper()
		change()
		n := len(took) + 1
		start := time.Now()
		if n%2 == 1 {
			cf.replace(c.text())
		} else {
			cf.rewriteTarget(c.text())
			p.signal(syscall.SIGHUP)
		}
		p.waitCount(p.stderr, "configuration reloaded", n, time.Minute)
		took = append(took, time.Since(start))
		before, seen := l.calls.Load(), heads.count()
		eventually(t, time.Minute, "100 more calls and 2 more heads after the reload", func() bool {
			return l.calls.Load() >= before+100 && heads.count() >= seen+2
		})
		t.Logf("reload %d (%s, %s) seen after %v", n, map[bool]string{true: "file", false: "SIGHUP"}[n%2 == 1], what, took[n-1].Round(time.Millisecond))
	}

	step("add a node", func() { c.churn = []*fakenode.Node{f[0], f[1], f[2]} })
	eventually(t, time.Minute, "fake2 to serve", func() bool { return f[2].Calls("web3_clientVersion") > 0 })

	step("remove a node", func() { c.churn = []*fakenode.Node{f[1], f[2]} })
	settle := l.calls.Load() + 200
	eventually(t, time.Minute, "200 calls", func() bool { return l.calls.Load() >= settle })
	removed := f[0].Calls("web3_clientVersion")

	step("weight and strategy", func() { c.churnExtra = "    strategy: round_robin\n"; c.weight = 4 })
	if now := f[0].Calls("web3_clientVersion"); now != removed {
		t.Fatalf("the removed node got %d more calls", now-removed)
	}

	step("add a network", func() { c.extra = []*fakenode.Node{f[3]} })
	if code, body := rpc(t, base+"/extra", clientVersion); code != 200 || !strings.Contains(body, "fake3") {
		t.Fatalf("the added network: %d %s", code, body)
	}

	step("log level DEBUG", func() { c.level = "DEBUG" })
	p.waitOutput(p.stderr, "level=DEBUG", time.Minute)

	step("remove a network", func() { c.extra = nil })
	if code, body := rpc(t, base+"/extra", clientVersion); code != 404 {
		t.Fatalf("the removed network: %d %s", code, body)
	}

	step("re-weight a geth node", func() { c.devWeight = 3 })
	step("remove a geth node", func() { c.devNodes = 1 })
	step("add the geth node back, scheduler", func() {
		c.devNodes = 2
		c.top = listeners(rpcPort, metricsPort) + "scheduler:\n  max_queued_low: 5000\n"
	})
	step("back to INFO and the first nodes", func() {
		c.level, c.churn, c.churnExtra, c.weight = "INFO", []*fakenode.Node{f[0], f[1]}, "", 0
	})
	eventually(t, time.Minute, "fake0 to serve again", func() bool { return f[0].Calls("web3_clientVersion") > removed })

	l.end()
	got := heads.stop()
	if n := l.failed.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed across the reloads; first: %s", n, l.calls.Load(), l.first)
	}
	if got.err != "" {
		t.Fatalf("the subscription: %s (heads %d..%d)", got.err, got.first, got.last)
	}
	if got.count < 20 {
		t.Fatalf("the subscription got only %d heads", got.count)
	}
	if v := metricLine(t, metricsURL, `evmgate_config_reloads_total{result="ok"}`); v != "10" {
		t.Fatalf("ok reloads metric = %q, want 10", v)
	}
	durations := regexp.MustCompile(`configuration reloaded".*? duration=(\S+)`).FindAllStringSubmatch(p.stderr.String(), -1)
	var applied []string
	for _, d := range durations {
		applied = append(applied, d[1])
	}
	t.Logf("%d calls, 0 failed; subscription got heads %d..%d (%d, none missed); reloads seen after %v; applied in %s",
		l.calls.Load(), got.first, got.last, got.count, took, strings.Join(applied, " "))
	t.Logf("subscription moves:\n%s", grepLines(p.stderr.String(), "moving subscription"))
	if code, took := p.terminate(time.Minute); code != 0 {
		t.Fatalf("exit %d after SIGTERM (%v)", code, took)
	}
}

// reloadConfig is the file the test rewrites.
type reloadConfig struct {
	top        string
	level      string
	dn         *devnet.Net
	devNodes   int // 0: all
	devWeight  int // weight of the first geth node (0: default)
	churn      []*fakenode.Node
	churnExtra string
	weight     int // weight of the first churn node (0: default)
	extra      []*fakenode.Node
}

func (c reloadConfig) text() string {
	var b strings.Builder
	b.WriteString(c.top + "log_level: " + c.level + "\nnetworks:\n")
	b.WriteString("  - name: dev\n    chain_id: 1337\n    local_poll_interval: 100ms\n    rpc_timeout: 2s\n    local_nodes:\n")
	for i, nd := range c.dn.Nodes() {
		if c.devNodes > 0 && i >= c.devNodes {
			break
		}
		fmt.Fprintf(&b, "      - rpc_endpoint: %q\n        ws_endpoint: %q\n        name: %s\n", nd.HTTPURL(), nd.WSURL(), nd.Name())
		if i == 0 && c.devWeight > 0 {
			fmt.Fprintf(&b, "        weight: %d\n", c.devWeight)
		}
	}
	b.WriteString("  - name: churn\n    chain_id: 1\n    local_poll_interval: 100ms\n" + c.churnExtra)
	b.WriteString(fakeNodesYAML("local_nodes", "", c.churn[0]))
	if c.weight > 0 {
		fmt.Fprintf(&b, "        weight: %d\n", c.weight)
	}
	b.WriteString(strings.TrimPrefix(fakeNodesYAML("", "", c.churn[1:]...), "    :\n"))
	if len(c.extra) > 0 {
		b.WriteString("  - name: extra\n    chain_id: 1\n    local_poll_interval: 100ms\n" + fakeNodesYAML("local_nodes", "", c.extra...))
	}
	return b.String()
}

// headWatch follows a newHeads subscription and checks that every block
// comes, in order.
type headWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex // mu protects res
	res    headResult
}

type headResult struct {
	first, last uint64
	count       int
	err         string
}

func watchHeads(ctx context.Context, t *testing.T, url string) *headWatch {
	t.Helper()
	client, err := ethclient.DialContext(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *types.Header, 64)
	sub, err := client.SubscribeNewHead(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &headWatch{cancel: cancel}
	w.wg.Go(func() {
		defer client.Close()
		defer sub.Unsubscribe()
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-sub.Err():
				w.fail(fmt.Sprintf("subscription ended: %v", err))
				return
			case h := <-ch:
				w.add(h.Number.Uint64())
			}
		}
	})
	return w
}

func (w *headWatch) add(n uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.res.count > 0 && n != w.res.last+1 && w.res.err == "" {
		w.res.err = fmt.Sprintf("head %d after %d", n, w.res.last)
	}
	if w.res.count == 0 {
		w.res.first = n
	}
	w.res.last = n
	w.res.count++
}

func (w *headWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.res.count
}

func (w *headWatch) fail(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.res.err == "" {
		w.res.err = msg
	}
}

func (w *headWatch) stop() headResult {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.res
}
