package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/fakenode"
	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// logsNode is a fake node that answers eth_getLogs with one log per block,
// made from the block number; the rest is the fake node's.
type logsNode struct {
	*fakenode.Node
	logs atomic.Int64
}

func (ln *logsNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params []struct {
			From string `json:"fromBlock"`
			To   string `json:"toBlock"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &req) != nil || req.Method != "eth_getLogs" {
		r.Body = io.NopCloser(bytes.NewReader(body))
		ln.Node.ServeHTTP(w, r)
		return
	}
	ln.logs.Add(1)
	from, _ := strconv.ParseUint(strings.TrimPrefix(req.Params[0].From, "0x"), 16, 64)
	to, _ := strconv.ParseUint(strings.TrimPrefix(req.Params[0].To, "0x"), 16, 64)
	w.Header().Set("Content-Type", "application/json")
	w.Write(blockLogs(req.ID, from, to))
}

func blockLogs(id []byte, from, to uint64) []byte {
	out := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%s,"result":[`, id)
	for b := from; b <= to; b++ {
		if b > from {
			out = append(out, ',')
		}
		out = fmt.Appendf(out, `{"blockNumber":"0x%x","logIndex":"0x0","data":"0x%064x"}`, b, b)
	}
	return append(out, "]}\n"...)
}

// `evmgate -config FILE` with max_logs_block_range, logs_chunk_blocks,
// logs_split_concurrency and the cache's Redis keys: a range is split into
// chunks and stitched back as the node would answer it, a range over the
// limit is refused with an error naming the key, a finalized block is
// written to Redis, and bad values of the new keys stop the process with
// the key named.
func TestGetLogsAndRedisAsProcess(t *testing.T) {
	fn, err := fakenode.Start(fakenode.Options{Name: "logs", ChainID: 1, Head: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	ln := &logsNode{Node: fn}
	node := httptest.NewServer(ln)
	defer node.Close()
	srv := redistest.New(t)
	srv.Start()

	rpcPort, metricsPort := freePort(t), freePort(t)
	cfg := filepath.Join(t.TempDir(), "evmgate.yaml")
	text := fmt.Sprintf(`listen_addr: 127.0.0.1
port: %d
metrics_port: %d
cache:
  redis_url: %s
  redis_prefix: "proc:"
  redis_ttl: 10m
  redis_max_bytes: 16777216
  redis_timeout: 100ms
networks:
  - name: logs
    chain_id: 1
    local_poll_interval: 100ms
    max_logs_block_range: 80
    logs_chunk_blocks: 10
    logs_split_concurrency: 2
    local_nodes:
      - name: n1
        rpc_endpoint: %q
  - name: whole
    chain_id: 1
    logs_split: false
    logs_chunk_blocks: 10
    local_nodes:
      - name: n1
        rpc_endpoint: %q
`, rpcPort, metricsPort, srv.URL(), node.URL, node.URL)
	writeFile(t, cfg, text)
	p := startProc(t, nil, "-config", cfg)
	p.waitOutput(p.stderr, "gateway started", 2*time.Minute)
	url := "http://" + addr(rpcPort) + "/logs"

	code, body := rpc(t, url, `{"jsonrpc":"2.0","id":"x","method":"eth_getLogs","params":[{"fromBlock":"0x5","toBlock":"0x40"}]}`)
	if want := string(blockLogs([]byte(`"x"`), 5, 64)); code != 200 || body != want {
		t.Fatalf("split call: %d %.200s\nwant %.200s", code, body, want)
	}
	if c := ln.logs.Load(); c != 7 {
		t.Fatalf("the node got %d eth_getLogs calls for blocks 5-64 in chunks of 10, want 7", c)
	}
	// logs_split: false sends the range as one call.
	code, body = rpc(t, "http://"+addr(rpcPort)+"/whole", `{"jsonrpc":"2.0","id":"y","method":"eth_getLogs","params":[{"fromBlock":"0x5","toBlock":"0x40"}]}`)
	if want := string(blockLogs([]byte(`"y"`), 5, 64)); code != 200 || body != want {
		t.Fatalf("unsplit call: %d %.200s\nwant %.200s", code, body, want)
	}
	if c := ln.logs.Load(); c != 8 {
		t.Fatalf("logs_split: false: the node got %d eth_getLogs calls for one range, want 1", c-7)
	}
	code, body = rpc(t, url, `{"jsonrpc":"2.0","id":2,"method":"eth_getLogs","params":[{"fromBlock":"0x0","toBlock":"0x50"}]}`)
	if code != 200 || !strings.Contains(body, `"code":-32005`) || !strings.Contains(body, "max_logs_block_range of 80") {
		t.Fatalf("range over the limit: %d %s", code, body)
	}

	rpc(t, url, `{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]}`)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	var keys []string
	eventually(t, 20*time.Second, "an answer written to Redis under proc:", func() bool {
		rpc(t, url, `{"jsonrpc":"2.0","id":3,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]}`)
		var err error
		keys, err = rdb.Keys(context.Background(), "proc:e:*").Result()
		return err == nil && len(keys) > 0
	})
	// redis_ttl: 10m bounds the entry's life.
	if ttl, err := rdb.TTL(context.Background(), keys[0]).Result(); err != nil || ttl <= 0 || ttl > 10*time.Minute {
		t.Fatalf("TTL of %s: %v %v, want within redis_ttl (10m)", keys[0], ttl, err)
	}
	if code, took := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM (%v)", code, took)
	}

	for key, bad := range map[string][2]string{
		"cache.redis_url":                    {"  redis_url: " + srv.URL(), "  redis_url: http://127.0.0.1:1"},
		"networks[0].logs_split_concurrency": {"logs_split_concurrency: 2", "logs_split_concurrency: 100"},
		"networks[0].logs_chunk_blocks":      {"logs_chunk_blocks: 10", "logs_chunk_blocks: 100"},
	} {
		writeFile(t, cfg, strings.Replace(text, bad[0], bad[1], 1))
		code, _, stderr := runProc(t, "validate", "-config", cfg)
		if code != 1 || !strings.Contains(stderr, key) {
			t.Fatalf("%s = %q: exit %d, stderr %s", key, bad[1], code, stderr)
		}
	}
}
