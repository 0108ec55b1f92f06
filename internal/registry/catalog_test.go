package registry

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/evmgate/evmgate/internal/redistest"
)

// reloadSeed is testSeed after a reload: mainnet's fallback node replaced,
// sepolia gone, base new.
func reloadSeed() map[string][]Node {
	return map[string][]Node{
		"mainnet": {{URI: c1, Name: "a"}, {URI: "http://10.0.0.3:8545"}},
		"base":    {{URI: "http://10.0.2.1:8545"}},
	}
}

// TestReloadKeepsRuntimeChanges: a reload replaces the configured nodes
// and networks; nodes added at run time stay, configured nodes removed at
// run time stay removed, and every network is applied again.
func TestReloadKeepsRuntimeChanges(t *testing.T) {
	f := newFake("mainnet", "sepolia")
	r := newTestRegistry(t, Config{}, f)
	h := r.Handler()
	mustCall(t, h, "POST", "/admin/networks/mainnet/nodes", map[string]string{"uri": x}, 201)
	mustCall(t, h, "DELETE", "/admin/networks/mainnet/nodes", map[string]string{"uri": c1}, 200)
	f.waitSet(t, "mainnet", c2, x)
	before := len(f.applied("mainnet"))

	cat, err := r.Prepare([]string{"mainnet", "base"}, reloadSeed())
	if err != nil {
		t.Fatal(err)
	}
	r.Reload(context.Background(), cat)
	f.waitSet(t, "mainnet", "http://10.0.0.3:8545", x)
	f.waitSet(t, "base", "http://10.0.2.1:8545")
	if len(f.applied("mainnet")) != before+1 {
		t.Fatalf("mainnet applied %d times by the reload, want once", len(f.applied("mainnet"))-before)
	}
	if _, err := r.Nodes("sepolia"); err == nil || !strings.Contains(err.Error(), `unknown network "sepolia" (known: mainnet, base)`) {
		t.Fatalf("Nodes(sepolia) after the reload: %v", err)
	}
	mustCall(t, h, "POST", "/admin/networks/sepolia/nodes", map[string]string{"uri": y}, 404)
	mustCall(t, h, "POST", "/admin/networks/base/nodes", map[string]string{"uri": y}, 201)
	f.waitSet(t, "base", "http://10.0.2.1:8545", y)

	// The same catalog again still applies every network: node settings
	// (weights, limits) may have changed in the file.
	cat, _ = r.Prepare([]string{"mainnet", "base"}, reloadSeed())
	r.Reload(context.Background(), cat)
	if got := len(f.applied("mainnet")); got != before+2 {
		t.Fatalf("an unchanged reload applied mainnet %d times in all, want %d", got, before+2)
	}
}

func TestPrepareChecksDefaultNetwork(t *testing.T) {
	r := newTestRegistry(t, Config{DefaultNetwork: "sepolia"}, newFake("mainnet", "sepolia"))
	_, err := r.Prepare([]string{"mainnet", "base"}, reloadSeed())
	if err == nil || !strings.Contains(err.Error(), `admin.default_network: unknown network "sepolia" (known: mainnet, base)`) {
		t.Fatalf("Prepare without the default network: %v", err)
	}
	if r.DefaultNetwork() != "sepolia" {
		t.Fatal("a refused catalog changed the registry")
	}
}

// TestRedisReloadReadsNewNetwork: a replica whose reload adds a network
// reads that network's runtime changes from Redis at once.
func TestRedisReloadReadsNewNetwork(t *testing.T) {
	leakCheck(t)
	rs := redistest.New(t)
	rs.Start()
	fa := newFake("mainnet", "base")
	a := newTestRegistryWith(t, redisConfig(rs, ""), fa, map[string][]Node{"mainnet": {{URI: c1}}, "base": {{URI: "http://10.0.2.1:8545"}}})
	mustCall(t, a.Handler(), "POST", "/admin/networks/base/nodes", map[string]string{"uri": y}, 201)

	fb := newFake("mainnet", "sepolia")
	b := newTestRegistry(t, redisConfig(rs, ""), fb)
	cat, err := b.Prepare([]string{"mainnet", "base"}, reloadSeed())
	if err != nil {
		t.Fatal(err)
	}
	b.Reload(context.Background(), cat)
	fb.waitSet(t, "base", "http://10.0.2.1:8545", y)
	if got := fb.uris("mainnet"); !slices.Equal(got, []string{c1, "http://10.0.0.3:8545"}) {
		t.Fatalf("mainnet after the reload: %v", got)
	}
}
