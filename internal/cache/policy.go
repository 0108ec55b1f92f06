package cache

import (
	"bytes"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// rule says when a method's answer may be kept.
type rule uint8

const (
	// never: not kept (still deduplicated when the method is a read).
	never rule = iota
	// static: the same for the network's whole life (eth_chainId).
	static
	// atNumber: kept when the call names an explicit block number at or
	// below the finalized block (EIP-1898 {"blockNumber"} included).
	atNumber
	// logRange: eth_getLogs whose fromBlock and toBlock are explicit
	// numbers at or below the finalized block, without blockHash.
	logRange
	// byHash: kept once found, when the block that holds the answer is at or
	// below the finalized block; field names that block's number in the
	// result.
	byHash
)

// policy is a method's cache rule, and what lookupRule read of one call.
type policy struct {
	rule rule
	// field is the result member holding the block number (byHash).
	field string
	// block is the highest block the call reads (atNumber, logRange: the
	// block, the filter's toBlock), which must still be final for the node
	// that answers.
	block uint64
}

// policies lists the safe reads: every method here may be deduplicated
// while in flight; those with a rule other than never may be kept. A method
// not listed (writes, filters, subscriptions, unknown methods) is neither.
var policies = map[string]policy{
	"eth_chainId": {rule: static},
	"net_version": {rule: static},

	"eth_getBlockByNumber":                    {rule: atNumber},
	"eth_getBlockReceipts":                    {rule: atNumber, field: "blockNumber"}, // or by hash
	"eth_getBlockTransactionCountByNumber":    {rule: atNumber},
	"eth_getTransactionByBlockNumberAndIndex": {rule: atNumber},
	"eth_getUncleCountByBlockNumber":          {rule: atNumber},
	"eth_getUncleByBlockNumberAndIndex":       {rule: atNumber},
	"eth_call":                                {rule: atNumber},
	"eth_getBalance":                          {rule: atNumber},
	"eth_getCode":                             {rule: atNumber},
	"eth_getStorageAt":                        {rule: atNumber},
	"eth_getTransactionCount":                 {rule: atNumber},
	"eth_getProof":                            {rule: atNumber},
	"eth_getLogs":                             {rule: logRange},

	"eth_getBlockByHash":                    {rule: byHash, field: "number"},
	"eth_getTransactionByHash":              {rule: byHash, field: "blockNumber"},
	"eth_getTransactionReceipt":             {rule: byHash, field: "blockNumber"},
	"eth_getTransactionByBlockHashAndIndex": {rule: byHash, field: "blockNumber"},

	// Reads that are only deduplicated.
	"eth_blockNumber":                    {},
	"net_listening":                      {},
	"net_peerCount":                      {},
	"web3_clientVersion":                 {},
	"web3_sha3":                          {},
	"eth_syncing":                        {},
	"eth_gasPrice":                       {},
	"eth_maxPriorityFeePerGas":           {},
	"eth_blobBaseFee":                    {},
	"eth_feeHistory":                     {},
	"eth_estimateGas":                    {},
	"eth_createAccessList":               {},
	"eth_simulateV1":                     {},
	"eth_getBlockTransactionCountByHash": {},
	"eth_config":                         {},
	"debug_traceTransaction":             {},
	"debug_traceBlockByNumber":           {},
	"debug_traceBlockByHash":             {},
	"debug_traceCall":                    {},
	"debug_getRawBlock":                  {},
	"debug_getRawHeader":                 {},
	"debug_getRawReceipts":               {},
	"debug_getRawTransaction":            {},
	"trace_block":                        {},
	"trace_transaction":                  {},
}

// lookupRule decides, before any node is asked, whether c may be answered
// from the cache: read reports a safe read (deduplicated); r is the rule an
// answer must pass to be kept (never: not looked up).
func lookupRule(c *jsonrpc.Call, final uint64, finalKnown bool) (p policy, read bool) {
	p, read = policies[c.Method]
	if !read {
		return policy{}, false
	}
	switch p.rule {
	case atNumber:
		if c.Method == "eth_getBlockReceipts" && firstParamIsHash(c.Params) {
			return policy{rule: byHash, field: p.field}, true
		}
		n, ok := c.BlockNumber()
		if !ok || !finalKnown || n > final {
			p.rule = never
		}
		p.block = n
	case logRange:
		to, ok := logsFinal(c.Params, final)
		if !finalKnown || !ok {
			p.rule = never
		}
		p.block = to
	case byHash:
		if !finalKnown {
			p.rule = never
		}
	}
	return p, true
}

// firstParamIsHash reports whether the first param is a 32-byte hash string
// (eth_getBlockReceipts takes a number, a tag or a hash).
func firstParamIsHash(params []byte) bool {
	var buf [4][]byte
	ps := jsonrpc.Params(params, buf[:0])
	return len(ps) > 0 && len(ps[0]) == 68 && isHexString(ps[0])
}

// logsFinal reports whether a log filter covers only finalized blocks: both
// ends explicit numbers at or below final and no blockHash (a filter by
// hash is not kept: it names a block, not a height). to is the filter's
// last block.
func logsFinal(params []byte, final uint64) (to uint64, ok bool) {
	var buf [2][]byte
	ps := jsonrpc.Params(params, buf[:0])
	if len(ps) != 1 || len(ps[0]) == 0 || ps[0][0] != '{' {
		return 0, false
	}
	f := ps[0]
	if jsonrpc.Member(f, "blockHash") != nil {
		return 0, false
	}
	from, ok1 := jsonrpc.ParseQuantity(jsonrpc.Member(f, "fromBlock"))
	to, ok2 := jsonrpc.ParseQuantity(jsonrpc.Member(f, "toBlock"))
	return to, ok1 && ok2 && from <= to && to <= final
}

// keepable reports whether a node's complete answer resp may be kept under
// policy p when final is the block final both for the network and for the
// node that answered: a result, not null, of blocks at or below final (for
// lookups by hash, held by such a block).
func keepable(p policy, resp []byte, final uint64, finalKnown bool) bool {
	res := jsonrpc.ResultValue(resp)
	if len(res) == 0 || bytes.Equal(res, []byte("null")) {
		return false
	}
	if e := jsonrpc.Member(resp, "error"); e != nil && !bytes.Equal(e, []byte("null")) {
		return false
	}
	switch p.rule {
	case static:
		return true
	case atNumber, logRange:
		return finalKnown && p.block <= final
	case byHash:
		return finalKnown && heldFinal(res, p.field, final)
	}
	return false
}

// heldFinal reports whether the block number in res's field (for an array,
// its first element's) is at or below final.
func heldFinal(res []byte, field string, final uint64) bool {
	if res[0] == '[' {
		var buf [1][]byte
		els := jsonrpc.Params(res, buf[:0])
		if len(els) == 0 {
			return false // an empty list names no block
		}
		res = els[0]
	}
	n, ok := jsonrpc.ParseQuantity(jsonrpc.Member(res, field))
	return ok && n <= final
}
