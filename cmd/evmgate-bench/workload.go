package main

import (
	"bytes"
	"fmt"
	"strings"
)

// workload is one kind of request the load generator repeats.
type workload struct {
	Name string
	// Method is the HTTP method: "" is POST with Body; "GET" sends no body
	// (a REST route such as /<network>/blocknumber).
	Method string
	// Body is the JSON-RPC request body.
	Body []byte
	// Results is how many "result" members a good answer has.
	Results int
	// MinSize is the least size of a good answer, in bytes.
	MinSize int
}

// blockSize is the size of the big block the fake nodes serve.
const blockSize = 100_000

var workloads = []workload{
	{
		Name:    "blockNumber",
		Body:    []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`),
		Results: 1,
	},
	{
		Name:    "batch10",
		Body:    batchBody(),
		Results: 10,
	},
	{
		// The REST API's GET /<network>/blocknumber (and /ws/blocknumber):
		// the answer is eth_blockNumber's.
		Name:    "restBlockNumber",
		Method:  "GET",
		Results: 1,
	},
	{
		// A header-sized block (transaction hashes only): with the fake
		// nodes' -finalized, a finalized block the cache keeps.
		Name:    "block",
		Body:    []byte(`{"jsonrpc":"2.0","id":5,"method":"eth_getBlockByNumber","params":["0x1",false]}`),
		Results: 1,
	},
	{
		// A read at "latest": never kept, but identical calls in flight
		// together share one upstream call.
		Name:    "balance",
		Body:    []byte(`{"jsonrpc":"2.0","id":6,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]}`),
		Results: 1,
	},
	{
		Name:    "block100k",
		Body:    []byte(`{"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["0x1",true]}`),
		Results: 1,
		MinSize: blockSize * 9 / 10,
	},
}

// batchBody is a batch of ten common reads.
func batchBody() []byte {
	calls := []string{
		`"eth_blockNumber","params":[]`,
		`"eth_chainId","params":[]`,
		`"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","latest"]`,
		`"net_version","params":[]`,
		`"eth_syncing","params":[]`,
	}
	parts := make([]string, 0, 10)
	for i := range 10 {
		parts = append(parts, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%s}`, i+1, calls[i%len(calls)]))
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}

func workloadByName(name string) (workload, error) {
	var names []string
	for _, w := range workloads {
		if w.Name == name {
			return w, nil
		}
		names = append(names, w.Name)
	}
	return workload{}, fmt.Errorf("unknown workload %q: use one of %s", name, strings.Join(names, ", "))
}

var (
	resultKey = []byte(`"result"`)
	errorKey  = []byte(`"error"`)
)

// smallAnswer is the size under which the whole answer is checked; a big
// block's answer is checked at its head only, so the check costs the load
// generator little.
const smallAnswer = 4 << 10

// check reports why body is not a good answer to w, or nil.
func (w *workload) check(body []byte) error {
	if len(body) < w.MinSize {
		return fmt.Errorf("answer of %d bytes, want at least %d: %.120s", len(body), w.MinSize, body)
	}
	if len(body) > smallAnswer {
		head := body[:256]
		if bytes.Contains(head, errorKey) || !bytes.Contains(head, resultKey) {
			return fmt.Errorf("not a result: %.120s", body)
		}
		return nil
	}
	if bytes.Contains(body, errorKey) {
		return fmt.Errorf("error answer: %.200s", body)
	}
	if n := bytes.Count(body, resultKey); n != w.Results {
		return fmt.Errorf("%d results, want %d: %.200s", n, w.Results, body)
	}
	return nil
}
