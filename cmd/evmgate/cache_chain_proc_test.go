package main

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

const (
	netVersionCall = `{"jsonrpc":"2.0","id":1,"method":"net_version","params":[]}`
	block5Call     = `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x5",false]}`
	// The hashes of fake nodes' block 5: the shared chain's, a fork's.
	sharedHash = `"hash":"0xefef`
	forkHash   = `"hash":"0xf0f0`
)

// cached posts body and returns the answer and its X-Cache header.
func cached(t *testing.T, url, body string) (answer, xcache string) {
	t.Helper()
	code, hdr, out := apmDo(t, http.MethodPost, url, body)
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", body, code, out)
	}
	return out, hdr.Get("X-Cache")
}

// networkChain reads a network's chain_id in the /status of the process
// whose metrics listener is on metricsPort.
func networkChain(t *testing.T, metricsPort int, network string) uint64 {
	t.Helper()
	n, ok := statusOf(t, "http://"+addr(metricsPort))[network]
	if !ok {
		t.Fatalf("no network %s in /status", network)
	}
	return n.ChainID
}

// A network that a reload moves to another chain never answers from what
// it kept on the chain it left: not the old eth_chainId, net_version or
// block, not even for an instant after the reload; the new chain's answers
// are kept and served from then on. A reload that changes only chain_id
// leaves no old answer to serve either.
func TestCacheFollowsChainOnReloadAsProcess(t *testing.T) {
	old := fakeNodes(t, 1, 4242)[0]
	old.SetFork(0) // its blocks are not the new chain's
	next := fakeNodes(t, 1, 1337)[0]
	rpcPort, metricsPort := freePort(t), freePort(t)
	text := func(extra string, n *fakenode.Node) string {
		return listeners(rpcPort, metricsPort) + "networks:\n  - name: net\n    local_poll_interval: 100ms\n" + extra +
			fakeNodesYAML("local_nodes", "", n)
	}
	cf := newConfigFiles(t)
	cf.replace(text("", old))
	p := startProc(t, nil, "-config", cf.path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/net"

	// Chain 4242: each answer kept; the block once the finalized block is known.
	for body, want := range map[string]string{chainIDCall: `"0x1092"`, netVersionCall: `"4242"`, block5Call: forkHash} {
		eventually(t, 30*time.Second, body+" kept on chain 4242", func() bool {
			out, xc := cached(t, url, body)
			if !strings.Contains(out, want) {
				t.Fatalf("chain 4242: %s answered %s, want %s", body, out, want)
			}
			return xc == "HIT"
		})
	}

	// The file now points net at chain 1337's node.
	cf.rewriteTarget(text("", next))
	p.signal(syscall.SIGHUP)
	logs := p.waitCount(p.stderr, "configuration reloaded", 1, time.Minute)
	if !strings.Contains(grepLines(logs, "configuration reloaded"), "applied=networks.net.local_nodes") {
		t.Fatalf("reload line: %s", grepLines(logs, "configuration reloaded"))
	}
	checkNew := func(when string) (hits int) {
		t.Helper()
		for body, want := range map[string]string{chainIDCall: `"0x539"`, netVersionCall: `"1337"`, block5Call: sharedHash} {
			out, xc := cached(t, url, body)
			if !strings.Contains(out, want) {
				t.Fatalf("%s: %s answered %s (X-Cache %s), want %s", when, body, out, xc, want)
			}
			if xc == "HIT" {
				hits++
			}
		}
		return hits
	}
	checkNew("at once after the reload")
	eventually(t, 30*time.Second, "chain 1337 in /status", func() bool { return networkChain(t, metricsPort, "net") == 1337 })
	eventually(t, 30*time.Second, "chain 1337's answers kept", func() bool { return checkNew("on chain 1337") == 3 })

	// Only chain_id changes, to a chain no node serves: nothing kept
	// answers, whatever chain it was kept on.
	cf.rewriteTarget(text("    chain_id: 1\n", next))
	p.signal(syscall.SIGHUP)
	p.waitCount(p.stderr, "configuration reloaded", 2, time.Minute)
	for _, body := range []string{chainIDCall, netVersionCall, block5Call} {
		code, hdr, out := apmDo(t, http.MethodPost, url, body)
		if hdr.Get("X-Cache") == "HIT" || strings.Contains(out, `"result"`) {
			t.Fatalf("chain_id 1 with a chain-1337 node: %s answered %d %s (X-Cache %s), want no node's answer",
				body, code, out, hdr.Get("X-Cache"))
		}
	}
	if code, _ := p.terminate(time.Minute); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// Two replicas share Redis and a network's name, on two chains: neither
// is answered with the other's entries. A third on the first one's chain
// is, from Redis.
func TestCacheRedisReplicasOnTwoChainsAsProcess(t *testing.T) {
	srv := redistest.New(t)
	srv.Start()
	n1337, n4242 := fakeNodes(t, 1, 1337)[0], fakeNodes(t, 1, 4242)[0]
	replica := func(n *fakenode.Node) (url, metrics string) {
		rpcPort, metricsPort := freePort(t), freePort(t)
		cf := newConfigFiles(t)
		cf.replace(listeners(rpcPort, metricsPort) + "cache:\n  redis_url: " + srv.URL() + "\n" +
			"networks:\n  - name: net\n" + fakeNodesYAML("local_nodes", "", n))
		p := startProc(t, nil, "-config", cf.path)
		p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
		return "http://" + addr(rpcPort) + "/net", "http://" + addr(metricsPort)
	}
	r1, _ := replica(n1337)
	r2, r2metrics := replica(n4242)

	if out, _ := cached(t, r1, chainIDCall); !strings.Contains(out, `"0x539"`) {
		t.Fatalf("r1: %s", out)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	var keys []string
	eventually(t, 30*time.Second, "r1's eth_chainId in Redis", func() bool {
		var err error
		keys, err = rdb.Keys(context.Background(), "evmgate:cache:e:*eth_chainId*").Result()
		return err == nil && len(keys) > 0
	})
	asked := n4242.Calls("eth_chainId")
	out, xc := cached(t, r2, chainIDCall)
	if !strings.Contains(out, `"0x1092"`) || xc == "HIT" {
		t.Fatalf("r2 on chain 4242 answered %s (X-Cache %s), want its own node's 0x1092", out, xc)
	}
	if n4242.Calls("eth_chainId") == asked {
		t.Fatal("r2's node was not asked")
	}
	if m := metricLine(t, r2metrics, `evmgate_cache_redis_total{result="miss"}`); m == "" || m == "0" {
		t.Fatalf("r2 did not look in Redis (misses %q): the test proves nothing", m)
	}

	if len(keys) != 1 || !strings.HasPrefix(keys[0], "evmgate:cache:e:net\x001337\x00eth_chainId") {
		t.Fatalf("Redis keys %q, want one of network net on chain 1337", keys)
	}
	r3, _ := replica(fakeNodes(t, 1, 1337)[0])
	if out, xc := cached(t, r3, chainIDCall); !strings.Contains(out, `"0x539"`) || xc != "HIT" {
		t.Fatalf("r3 on chain 1337 answered %s (X-Cache %s), want r1's answer from Redis", out, xc)
	}
}

// Three nodes at head 100: two name block 90 as finalized (the network's
// finalized block), the third is on a fork of its own from block 85 and
// names 84. The forked node serves (it is the only local node): its blocks
// past 84 are answered as it gives them but never kept, so they are not
// served again from the cache; its block 84, final for every node, is.
func TestCacheKeepsOnlyNodesFinalBlocksAsProcess(t *testing.T) {
	var good []*fakenode.Node
	for _, name := range []string{"a", "b"} {
		f, err := fakenode.Start(fakenode.Options{Name: name, ChainID: 1, Head: 100, Finalized: 90})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		good = append(good, f)
	}
	fork, err := fakenode.Start(fakenode.Options{Name: "c", ChainID: 1, Head: 100, Finalized: 84})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fork.Close)
	fork.SetFork(85)
	rpcPort, metricsPort := freePort(t), freePort(t)
	cf := newConfigFiles(t)
	cf.replace(listeners(rpcPort, metricsPort) + "networks:\n  - name: net\n" +
		fakeNodesYAML("local_nodes", "", fork) + fakeNodesYAML("fallback_nodes", "", good...))
	p := startProc(t, nil, "-config", cf.path)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/net"
	block := func(num string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["` + num + `",false]}`
	}

	// Block 84 is final for every node: kept once the first probes told
	// every node's finalized block.
	eventually(t, 30*time.Second, "block 84 kept", func() bool {
		out, xc := cached(t, url, block("0x54"))
		if !strings.Contains(out, sharedHash) {
			t.Fatalf("block 84: %s", out)
		}
		return xc == "HIT"
	})
	for _, num := range []string{"0x56", "0x58", "0x59"} {
		for round := range 3 {
			asked := fork.Calls("eth_getBlockByNumber")
			out, xc := cached(t, url, block(num))
			if !strings.Contains(out, forkHash) || xc != "MISS" {
				t.Fatalf("block %s, round %d: %s (X-Cache %s), want the forked node's own answer, not kept", num, round, out, xc)
			}
			if fork.Calls("eth_getBlockByNumber") == asked {
				t.Fatalf("block %s, round %d: the node was not asked", num, round)
			}
		}
	}
	if code, _ := p.terminate(time.Minute); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
