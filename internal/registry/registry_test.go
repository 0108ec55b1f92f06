package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStateFileSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.json")
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{StateFile: path}, f)
	h := r.Handler()
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.5:8545", "tier": "monitoring", "name": "five"}, 201)
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": "http://10.0.0.6:8545"}, 201)
	mustCall(t, h, "DELETE", "/nodes", map[string]string{"uri": "http://10.0.0.2:8545"}, 200)
	mustCall(t, h, "POST", "/admin/networks/sepolia/nodes", map[string]string{"uri": "https://sepolia.example/key"}, 201)
	want := f.set("mainnet")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}

	g := newFake("mainnet", "sepolia")
	newTestRegistry(t, Config{StateFile: path}, g)
	if got := g.set("mainnet"); !slices.Equal(got, want) {
		t.Fatalf("after restart mainnet is %+v, want %+v", got, want)
	}
	g.waitSet(t, "sepolia", "http://10.0.1.1:8545", "https://sepolia.example/key")
	if _, admits := g.counts(); admits != 0 {
		t.Fatalf("Start admitted %d stored nodes; it must not contact nodes", admits)
	}
}

func TestStateFileUnreadableFailsStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nodes.json")
	if err := os.WriteFile(path, []byte(`{"format": 1, "networks": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{StateFile: path}
	cfg.Default()
	r, err := New(cfg, testSeed(), newFake("mainnet", "sepolia"), quietLog(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	err = r.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Start: %v, want an error naming %s", err, path)
	}
}

func TestNewChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		networks []string
		seed     map[string][]Node
		msg      string
	}{
		{"no networks", Config{}, nil, nil, "no networks"},
		{"bad default network", Config{DefaultNetwork: "base"}, []string{"mainnet"}, nil, `admin.default_network: unknown network "base" (known: mainnet)`},
		{"node listed twice", Config{}, []string{"mainnet"}, map[string][]Node{"mainnet": {{URI: "http://x:1"}, {URI: "http://x:1"}}}, `network "mainnet" lists node http://x:1 twice`},
		{"seed for unknown network", Config{}, []string{"mainnet"}, map[string][]Node{"base": {{URI: "http://x:1"}}}, `unknown network "base"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Default()
			_, err := New(tc.cfg, tc.seed, newFake(tc.networks...), quietLog(), prometheus.NewRegistry())
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("New: %v, want %q", err, tc.msg)
			}
		})
	}
}

func TestCompose(t *testing.T) {
	seed := []Node{{Network: "n", URI: "http://c1:1", Tier: TierLocal, Source: SourceConfig}, {Network: "n", URI: "http://c2:1", Tier: TierLocal, Source: SourceConfig}}
	c := &changes{
		Added: map[string]added{
			"http://a3:1": {Tier: TierFallback, Seq: 3},
			"http://a1:1": {Tier: TierLocal, Seq: 1},
			"http://c2:1": {Tier: TierFallback, Seq: 2}, // configured here, added by a replica without it
			"http://a9:1": {Tier: TierLocal, Seq: 4},    // removed later
		},
		Removed: map[string]int64{"http://c1:1": 5, "http://a9:1": 6},
	}
	var got []string
	for _, n := range compose("n", seed, c) {
		got = append(got, n.URI+"/"+n.Source)
	}
	want := []string{"http://c2:1/config", "http://a1:1/admin", "http://a3:1/admin"}
	if !slices.Equal(got, want) {
		t.Fatalf("compose: %v, want %v", got, want)
	}
	c.Added["http://c1:1"] = added{Tier: TierFallback, Seq: 7} // re-added after its removal
	if nodes := compose("n", seed, c); nodes[0].URI != "http://c1:1" || nodes[0].Source != SourceConfig {
		t.Fatalf("a configured node added again must keep its configured place: %+v", nodes)
	}
}

func TestAddErrorsMatch(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{}, f)
	ctx := context.Background()
	if _, err := r.Add(ctx, Node{Network: "base", URI: "http://x:1"}); !errors.Is(err, ErrUnknownNetwork) {
		t.Fatalf("unknown network: %v", err)
	}
	if _, err := r.Add(ctx, Node{Network: "mainnet", URI: "http://10.0.0.1:8545"}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := r.Remove(ctx, "mainnet", "http://nope:1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("not found: %v", err)
	}
	n, err := r.Add(ctx, Node{Network: "sepolia", URI: "http://10.0.1.2:8545"})
	if err != nil || n.Tier != TierLocal || n.Source != SourceAdmin {
		t.Fatalf("Add: %+v, %v", n, err)
	}
}
