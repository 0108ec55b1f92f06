package priolb

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/redistest"
)

func TestRedisURL(t *testing.T) {
	for in, want := range map[string]string{
		"dev": "", "": "", "127.0.0.1:6379": "redis://127.0.0.1:6379",
		"redis://r:6379/2": "redis://r:6379/2", "rediss://u:p@r:6380": "rediss://u:p@r:6380",
	} {
		got, ok := RedisURL(in)
		if got != want || ok != (want != "") {
			t.Errorf("RedisURL(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if k := NodesKey(DefaultRedisPrefix); k != "prio-load-balancer:prio-load-balancer:nodes" {
		t.Errorf("default key %q", k)
	}
}

// The node list prio-load-balancer wrote (one key, a JSON array of URIs)
// is read from a real Redis, with the default prefix and another; a
// missing key is an empty list, a key that is not such an array an error.
func TestReadNodes(t *testing.T) {
	srv := redistest.New(t)
	srv.Start()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	uris := []string{"http://10.0.0.1:8545", "http://10.0.0.2:8545?_workers=2"}
	if err := rdb.Set(ctx, "prio-load-balancer:prio-load-balancer:nodes", `["http://10.0.0.1:8545","http://10.0.0.2:8545?_workers=2"]`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, "relay-a:prio-load-balancer:nodes", `["http://10.0.0.3:8545"]`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadNodes(ctx, "redis://"+srv.Addr(), DefaultRedisPrefix)
	if err != nil || !slices.Equal(got, uris) {
		t.Fatalf("default prefix: %v %v", got, err)
	}
	got, err = ReadNodes(ctx, "redis://"+srv.Addr(), "relay-a:")
	if err != nil || !slices.Equal(got, []string{"http://10.0.0.3:8545"}) {
		t.Fatalf("other prefix: %v %v", got, err)
	}
	if got, err = ReadNodes(ctx, "redis://"+srv.Addr(), "none:"); err != nil || len(got) != 0 {
		t.Fatalf("missing key: %v %v", got, err)
	}
	rdb.Set(ctx, "bad:prio-load-balancer:nodes", `{"uri":"x"}`, 0)
	if _, err = ReadNodes(ctx, "redis://"+srv.Addr(), "bad:"); err == nil || !strings.Contains(err.Error(), "JSON array of node URIs") {
		t.Fatalf("bad key: %v", err)
	}
	srv.Stop()
	if _, err = ReadNodes(ctx, "redis://"+srv.Addr(), DefaultRedisPrefix); err == nil || !strings.Contains(err.Error(), "REDIS_URI") {
		t.Fatalf("redis down: %v", err)
	}
}
