package config

import (
	"strings"
	"testing"
)

// TestWarnings: lists that admit nothing, and a network where no node
// admits eth_blockNumber, are warned about under their key paths; lists
// that admit something are not.
func TestWarnings(t *testing.T) {
	const sendOnly = "        methods: {allow: [eth_sendRawTransaction, eth_chainId]}\n"
	const head = "networks:\n  - name: mainnet\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8545\n"
	tests := []struct {
		name string
		yaml string
		want []string // each a warning's start: key path and what happens
	}{
		{"no lists", head, nil},
		{"lists that admit some", head + "        methods: {allow: [\"eth_*\"], deny: [eth_sendRawTransaction]}\n", nil},
		{"empty allow admits all", head + "        methods: {allow: []}\n", nil},
		{"allow all denied",
			head + "      - rpc_endpoint: http://127.0.0.1:8546\n        methods: {allow: [eth_call, \"debug_*\"], deny: [\"eth_*\", \"debug_*\"]}\n",
			[]string{`networks[0].local_nodes[1].methods: node "http://127.0.0.1:8546" is sent no call (it is still probed): deny matches every entry of allow (deny wins)`}},
		{"deny star on the only node",
			"networks:\n  - name: base\n    fallback_nodes:\n      - {name: p, rpc_endpoint: http://127.0.0.1:8545, methods: {deny: [\"*\"]}}\n",
			[]string{`networks[0].fallback_nodes[0].methods: node "p" is sent no call (it is still probed): deny holds "*"`,
				`networks[0]: no node of network "base" admits eth_blockNumber`}},
		{"eth_blockNumber nowhere",
			head + "        methods: {deny: [eth_blockNumber]}\n    monitoring_nodes:\n      - rpc_endpoint: http://127.0.0.1:8546\n        methods: {allow: [\"debug_*\"]}\n",
			[]string{`networks[0]: no node of network "mainnet" admits eth_blockNumber by its methods lists`}},
		{"eth_blockNumber on a fallback",
			head + "        methods: {deny: [eth_blockNumber]}\n    fallback_nodes:\n      - rpc_endpoint: http://127.0.0.1:8546\n", nil},
		// A network meant for sending only: its clients are refused the
		// reads its nodes cannot serve, so nothing is lost that was meant.
		{"send only, said by the network's access allow list",
			head + sendOnly + "access:\n  networks:\n    mainnet:\n      methods: {allow: [eth_sendRawTransaction, eth_chainId]}\n", nil},
		{"send only, said by access.methods deny",
			head + sendOnly + "access:\n  methods: {deny: [eth_blockNumber, \"eth_subscribe\"]}\n", nil},
		{"send only, eth_subscribe still offered",
			head + sendOnly + "access:\n  networks:\n    mainnet:\n      methods: {deny: [eth_blockNumber]}\n",
			[]string{`networks[0]: no node of network "mainnet" admits eth_blockNumber by its methods lists`}},
		{"send only, another network's policy",
			head + sendOnly + "  - name: other\n    local_nodes:\n      - rpc_endpoint: http://127.0.0.1:8547\n" +
				"access:\n  networks:\n    other:\n      methods: {allow: [eth_sendRawTransaction]}\n",
			[]string{`networks[0]: no node of network "mainnet" admits eth_blockNumber by its methods lists`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), noEnv)
			if err != nil {
				t.Fatal(err)
			}
			got := c.Warnings()
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %q, want it to start %q", got[i], w)
				}
			}
		})
	}
}
