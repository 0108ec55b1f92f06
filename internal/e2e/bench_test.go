package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/evmgate/evmgate/internal/devnet"
)

// benchClients is the concurrency of BenchmarkRealNodes.
const benchClients = 16

// BenchmarkRealNodes measures evmgate in front of three real geth nodes
// against direct calls on one of them, 16 concurrent clients, for
// eth_blockNumber, eth_getBlockByNumber with full transactions (blocks of 20
// transfers) and eth_call (the log emitter, which runs a LOG1). Each sub-
// benchmark reports requests/s and the p50 and p99 latency of its last run:
//
//	go test -run '^$' -bench BenchmarkRealNodes -benchtime 3s ./internal/e2e/
func BenchmarkRealNodes(b *testing.B) {
	net := startNet(b, devnet.Config{Nodes: 3})
	mineIndexed(b, net)
	emitter, blocks := benchChain(b, net)
	g := startGateway(b, nodeURLs(net), gwOptions{})
	waitInSync(b, g, net.Head(), "node0", "node1", "node2")

	var fullBlocks []string
	for _, n := range blocks {
		fullBlocks = append(fullBlocks, rpcBody(b, "eth_getBlockByNumber", hexutil.Uint64(n), true))
	}
	workloads := []struct {
		name   string
		bodies []string
	}{
		{"eth_blockNumber", []string{rpcBody(b, "eth_blockNumber")}},
		{"eth_getBlockByNumber_full", fullBlocks},
		{"eth_call", []string{rpcBody(b, "eth_call", map[string]any{"to": emitter, "data": hexutil.Bytes("benchmark")}, "latest")}},
	}
	targets := []struct{ name, url string }{
		{"direct", net.Nodes()[0].HTTPURL()},
		{"gateway", gatewayURL(g)},
	}
	for _, w := range workloads {
		for _, tg := range targets {
			b.Run(w.name+"/"+tg.name, func(b *testing.B) { benchLoad(b, tg.url, w.bodies) })
		}
	}
}

// benchChain deploys the log emitter and mines 4 blocks of 20 transfers; it
// returns the emitter and the numbers of those blocks.
func benchChain(b *testing.B, net *devnet.Net) (common.Address, []uint64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	emitter, _, err := net.DeployLogEmitter(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var blocks []uint64
	for range 4 {
		for range 20 {
			if _, err := net.SendTransfer(ctx, recipient, big.NewInt(1)); err != nil {
				b.Fatal(err)
			}
		}
		num, err := net.Mine(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if blk, _ := net.Block(num); blk.TxCount == 0 {
			b.Fatalf("block %d holds no transaction", num)
		}
		blocks = append(blocks, num)
	}
	return emitter, blocks
}

func rpcBody(tb testing.TB, method string, params ...any) string {
	tb.Helper()
	if params == nil {
		params = []any{}
	}
	out, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		tb.Fatalf("encoding %s: %v", method, err)
	}
	return string(out)
}

// benchLoad sends b.N calls from benchClients clients, cycling over bodies,
// and reports requests/s, p50 and p99.
func benchLoad(b *testing.B, url string, bodies []string) {
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	lat := make([][]time.Duration, benchClients)
	errs := make(chan error, benchClients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := benchPost(hc, url, bodies[int(i)%len(bodies)]); err != nil {
					errs <- err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

func benchPost(hc *http.Client, url, body string) error {
	resp, err := hc.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		return fmt.Errorf("posting to %s: %w", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading answer of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"result"`)) {
		return fmt.Errorf("%s answered %d %.200s", url, resp.StatusCode, out)
	}
	return nil
}
