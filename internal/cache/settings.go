package cache

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/yamlvalue"
	"github.com/redis/go-redis/v9"
)

// Settings is the top-level cache: section of the configuration file.
type Settings struct {
	// Enabled turns the response cache and in-flight dedup on. Default true.
	// A network's own cache: false turns both off for that network.
	Enabled *bool `yaml:"enabled"`
	// MaxBytes bounds the memory the cache holds, keys and answers.
	// Default 256 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxItemBytes is the largest answer kept (or shared while in flight);
	// larger answers pass through untouched. Default 2 MiB.
	MaxItemBytes int `yaml:"max_item_bytes"`
	// Dedup makes identical reads in flight at the same time share one
	// upstream call. Default true.
	Dedup *bool `yaml:"dedup"`

	// RedisURL (redis://[user:password@]host:port/db or rediss://...) adds
	// Redis as a second level shared by replicas: a memory miss asks it, a
	// kept answer is written to it. Default "": memory only.
	RedisURL string `yaml:"redis_url"`
	// RedisPrefix starts every key the cache writes. Default "evmgate:cache:".
	RedisPrefix string `yaml:"redis_prefix"`
	// RedisTTL is how long an entry lives in Redis. Default 1h.
	RedisTTL yamlvalue.Duration `yaml:"redis_ttl"`
	// RedisMaxBytes bounds the bytes the cache keeps in Redis, every
	// replica together (keys, values and 64 bytes per entry). Default 256 MiB.
	RedisMaxBytes int64 `yaml:"redis_max_bytes"`
	// RedisTimeout bounds one Redis read or write; past it the call misses.
	// Default 50ms.
	RedisTimeout yamlvalue.Duration `yaml:"redis_timeout"`
}

// The defaults.
const (
	DefaultMaxBytes      = 256 << 20
	DefaultMaxItemBytes  = 2 << 20
	DefaultRedisPrefix   = "evmgate:cache:"
	DefaultRedisTTL      = time.Hour
	DefaultRedisMaxBytes = 256 << 20
	DefaultRedisTimeout  = 50 * time.Millisecond
)

// Default fills unset keys.
func (s *Settings) Default() {
	t := true
	if s.Enabled == nil {
		s.Enabled = &t
	}
	if s.Dedup == nil {
		s.Dedup = &t
	}
	if s.MaxBytes == 0 {
		s.MaxBytes = DefaultMaxBytes
	}
	if s.MaxItemBytes == 0 {
		s.MaxItemBytes = DefaultMaxItemBytes
	}
	if s.RedisPrefix == "" {
		s.RedisPrefix = DefaultRedisPrefix
	}
	if s.RedisTTL == 0 {
		s.RedisTTL = yamlvalue.Duration(DefaultRedisTTL)
	}
	if s.RedisMaxBytes == 0 {
		s.RedisMaxBytes = DefaultRedisMaxBytes
	}
	if s.RedisTimeout == 0 {
		s.RedisTimeout = yamlvalue.Duration(DefaultRedisTimeout)
	}
}

// Validate checks defaulted settings; each problem names its key and fix.
func (s *Settings) Validate() error {
	var p []string
	if s.MaxBytes < 1<<20 {
		p = append(p, fmt.Sprintf("cache.max_bytes: %d is too small: use at least 1048576 (1 MiB)", s.MaxBytes))
	}
	if s.MaxItemBytes < 1024 {
		p = append(p, fmt.Sprintf("cache.max_item_bytes: %d is too small: use at least 1024", s.MaxItemBytes))
	} else if int64(s.MaxItemBytes) > s.MaxBytes/4 {
		p = append(p, fmt.Sprintf("cache.max_item_bytes: %d is over a quarter of cache.max_bytes (%d): lower it or raise max_bytes", s.MaxItemBytes, s.MaxBytes))
	}
	if s.RedisURL != "" {
		if _, err := redis.ParseURL(s.RedisURL); err != nil {
			p = append(p, fmt.Sprintf("cache.redis_url: %v (expected redis://host:port/db or rediss://...)", err))
		}
	}
	if s.RedisTTL.D() < time.Second {
		p = append(p, fmt.Sprintf("cache.redis_ttl: %s is too short: use 1s or more (e.g. \"1h\")", s.RedisTTL.D()))
	}
	if s.RedisMaxBytes < 1<<20 {
		p = append(p, fmt.Sprintf("cache.redis_max_bytes: %d is too small: use at least 1048576 (1 MiB)", s.RedisMaxBytes))
	}
	if s.RedisTimeout.D() < time.Millisecond {
		p = append(p, fmt.Sprintf("cache.redis_timeout: %s is too short: use 1ms or more (e.g. \"50ms\")", s.RedisTimeout.D()))
	}
	if strings.ContainsAny(s.RedisPrefix, " \t\n") {
		p = append(p, "cache.redis_prefix: must not contain white space")
	}
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "\n"))
}

// Config turns defaulted settings into the store's.
func (s *Settings) Config() Config {
	c := Config{MaxBytes: uint64(s.MaxBytes), MaxItemBytes: s.MaxItemBytes, Dedup: *s.Dedup}
	if s.RedisURL != "" {
		c.Redis = &RedisConfig{URL: s.RedisURL, Prefix: s.RedisPrefix, TTL: s.RedisTTL.D(),
			MaxBytes: s.RedisMaxBytes, Timeout: s.RedisTimeout.D()}
	}
	return c
}
