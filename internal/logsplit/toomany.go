package logsplit

import "strings"

// tooManyMessages are the errors nodes and providers give for a log query
// too large to answer, lower-cased; a chunk answered with one is cut in two.
// This is the one place eth_getLogs errors are matched by text.
var tooManyMessages = []string{
	"query returned more than",          // geth, Infura: query returned more than 10000 results
	"too many logs",                     // Erigon: query returns too many logs, narrow your filter: 20000
	"too many results",                  // generic
	"response size exceeded",            // Alchemy: Log response size exceeded.
	"response size should not",          // Alchemy (older)
	"response is too big",               // generic
	"response too large",                // generic
	"max results",                       // "exceeds max results"
	"narrow your filter",                // Erigon: query block range exceeds server limit, narrow your filter
	"block range too large",             // cdk-erigon, Besu-style
	"block range is too large",          // generic
	"range is too wide",                 // generic
	"block range is larger than",        // block range is larger than max block range
	"block range is bigger than",        // block range is bigger than maxBlockRange
	"is bigger than range limit",        // range 9009594 is bigger than range limit 2000
	"exceed maximum block range",        // exceed maximum block range: 50000
	"exceeds maximum rpc range",         // Besu: exceeds maximum RPC range limit
	"exceeds limit of",                  // Infura: range 1000000 exceeds limit of 10000
	"is limited to a",                   // QuickNode: eth_getLogs is limited to a 10,000 range
	"logs over more than",               // Nethermind-style range limits
	"max logs per response",             // Nethermind: Too many logs requested. Max logs per response is 10000.
	"exceeds the maximum allowed range", // generic
}

// TooMany reports whether a node's error answer to eth_getLogs means the
// query was too large (in results, bytes or blocks), so a smaller range may
// succeed. "block range extends beyond current head" and "invalid block
// range" are not among them: a smaller range does not help.
func TooMany(message string) bool {
	m := strings.ToLower(message)
	for _, s := range tooManyMessages {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
