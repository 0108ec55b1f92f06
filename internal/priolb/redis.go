package priolb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodesKey is the Redis key where prio-load-balancer keeps its node list:
// one string, a JSON array of node URIs, written whole on every change.
func NodesKey(prefix string) string { return prefix + "prio-load-balancer:nodes" }

// RedisURL turns -redis into a redis:// URL; false means no Redis ("dev",
// prio-load-balancer's in-process server, or empty).
func RedisURL(v string) (string, bool) {
	v = strings.TrimSpace(v)
	switch {
	case v == "" || v == "dev":
		return "", false
	case strings.Contains(v, "://"):
		return v, true
	}
	return "redis://" + v, true
}

// readTimeout bounds reading the node list at start.
const readTimeout = 5 * time.Second

// ReadNodes reads prio-load-balancer's node list from Redis. A missing key
// is an empty list.
func ReadNodes(ctx context.Context, redisURL, prefix string) ([]string, error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis (REDIS_URI): %w (use host:port or redis://host:port/db)", err)
	}
	opt.DisableIdentity = true
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	key := NodesKey(prefix)
	raw, err := rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading prio-load-balancer's node list from redis %s (-redis, REDIS_URI): %w", opt.Addr, err)
	}
	var uris []string
	if err := json.Unmarshal([]byte(raw), &uris); err != nil {
		return nil, fmt.Errorf("redis key %q does not hold a JSON array of node URIs: %w (fix or delete the key)", key, err)
	}
	return uris, nil
}
