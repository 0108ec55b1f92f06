package registry_test

import (
	"testing"

	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/registry"
)

// FuzzRedactMatchesConfig: the registry names a node in its errors and logs
// as /status names a node without a name (config.Redact).
func FuzzRedactMatchesConfig(f *testing.F) {
	for _, uri := range []string{
		"http://10.0.0.5:8545",
		"http://10.0.0.5:8545/",
		"http://127.0.0.1:41371/p",
		"https://user:secret@rpc.example.net/eth",
		"https://lb.drpc.org/ogrpc?network=ethereum&dkey=SECRETKEY",
		"https://eth-mainnet.g.alchemy.com/v2/abcdefghijklmnopqrstuvwxyz012345",
		"https://x.quiknode.pro/0123456789abcdef0123/",
		"https://node.example/short/0123456789abcdef",
		"https://node.example/aééééééééé",
		"http://10.0.0.5:8545?_workers=4",
		"http://[::1]:8545#frag",
		"http://h/a%2Fb//c",
		"localhost:8545",
		"://",
		"",
	} {
		f.Add(uri)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		got := registry.Redact(uri)
		if want := config.Redact(uri); got != want {
			t.Fatalf("registry names %q %q, /status %q", uri, got, want)
		}
	})
}
