package config

import (
	"strings"
	"testing"
)

func TestCacheKeys(t *testing.T) {
	base := "networks:\n  - name: main\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"
	env := func(string) (string, bool) { return "", false }
	cfg, err := Parse([]byte(base), env)
	if err != nil {
		t.Fatal(err)
	}
	if !*cfg.Cache.Enabled || !*cfg.Cache.Dedup || cfg.Cache.MaxBytes != 256<<20 || cfg.Networks[0].Cache != nil {
		t.Fatalf("cache defaults: %+v", cfg.Cache)
	}
	cfg, err = Parse([]byte("cache:\n  max_bytes: 8388608\n  max_item_bytes: 65536\n  dedup: false\n"+base+"    cache: false\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cache.MaxBytes != 8<<20 || cfg.Cache.MaxItemBytes != 64<<10 || *cfg.Cache.Dedup || *cfg.Networks[0].Cache {
		t.Fatalf("cache keys not read: %+v, network %v", cfg.Cache, *cfg.Networks[0].Cache)
	}
	_, err = Parse([]byte("cache:\n  max_bytes: 1000\n"+base), env)
	if err == nil || !strings.Contains(err.Error(), "cache.max_bytes") {
		t.Fatalf("a tiny cache.max_bytes: %v", err)
	}
	_, err = Parse([]byte("cache:\n  max_byte: 1000\n"+base), env)
	if err == nil || !strings.Contains(err.Error(), "max_byte") {
		t.Fatalf("a misspelt key: %v", err)
	}
}
