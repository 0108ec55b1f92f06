package e2e

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/evmgate/evmgate/internal/devnet"
	"github.com/evmgate/evmgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestCacheRedisShared: two gateways share one redis-server as the
// second cache level. A finalized block fetched through gateway A is served
// by gateway B without a node call, byte for byte; with Redis down, B still
// answers from its nodes.
func TestCacheRedisShared(t *testing.T) {
	n := startNet(t, devnet.Config{Nodes: 2})
	for range 8 {
		mineIndexed(t, n)
	}
	srv := redistest.New(t)
	srv.Start()
	y := "cache:\n  redis_url: " + srv.URL() + "\n  redis_ttl: 10m\n  redis_max_bytes: 8388608\n" + gatewayYAML(nodeURLs(n), gwOptions{})
	a := startGatewayLogged(t, y, testLog(t))
	b := startGatewayLogged(t, y, testLog(t))
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	gatewayFinalized(t, a, 4)
	gatewayFinalized(t, b, 4)

	direct, _ := postCache(t, hc, n.Nodes()[0].HTTPURL(), callBody(`"d"`, "eth_getBlockByNumber", `"0x3"`, "true"))
	first, xa := postCache(t, hc, gatewayURL(a), callBody(`"a"`, "eth_getBlockByNumber", `"0x3"`, "true"))
	if xa != "MISS" || !bytes.Equal(first, bytes.Replace(direct, []byte(`"id":"d"`), []byte(`"id":"a"`), 1)) {
		t.Fatalf("gateway A: X-Cache %q, %.200s", xa, first)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	waitUntil(t, 10*time.Second, "the block written to Redis", func() bool {
		keys, err := rdb.Keys(context.Background(), "evmgate:cache:e:*").Result()
		return err == nil && len(keys) == 1
	})
	before := servedCalls(t, b)
	got, xb := postCache(t, hc, gatewayURL(b), callBody(`"b"`, "eth_getBlockByNumber", `"0x3"`, "true"))
	if xb != "HIT" || !bytes.Equal(got, bytes.Replace(direct, []byte(`"id":"d"`), []byte(`"id":"b"`), 1)) {
		t.Fatalf("gateway B: X-Cache %q, %.200s", xb, got)
	}
	for node, c := range delta(before, servedCalls(t, b)) {
		if c != 0 {
			t.Fatalf("gateway B asked %s %v times for a block in Redis", node, c)
		}
	}

	srv.Stop()
	direct, _ = postCache(t, hc, n.Nodes()[0].HTTPURL(), callBody(`"d"`, "eth_getBlockByNumber", `"0x4"`, "false"))
	got, xb = postCache(t, hc, gatewayURL(b), callBody(`"b"`, "eth_getBlockByNumber", `"0x4"`, "false"))
	if xb != "MISS" || !bytes.Equal(got, bytes.Replace(direct, []byte(`"id":"d"`), []byte(`"id":"b"`), 1)) {
		t.Fatalf("Redis down: X-Cache %q, %.200s", xb, got)
	}
}
