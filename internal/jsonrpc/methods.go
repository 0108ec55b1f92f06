package jsonrpc

import "strings"

// MethodInfo is what routing needs to know about a method.
type MethodInfo struct {
	// BlockParam is the position in params of the block number or tag, or -1.
	BlockParam int
	// SendTx marks eth_sendRawTransaction: retried safely because the hash is
	// fixed, and "already known" after a retry is success.
	SendTx bool
	// Subscription marks methods that only work over a WebSocket.
	Subscription bool
	// Filter marks methods whose first param is a log filter: its fromBlock
	// and toBlock route the call like a block parameter.
	Filter bool
	// ByHash marks lookups by hash: a null answer from a node behind the
	// network head may only mean it has not seen the block yet.
	ByHash bool
	// State marks methods that read the state at their block: a full node
	// holds it only for recent blocks, an archive node for every block.
	State bool
	// NullIfMissing marks lookups of a block whose answer is null only
	// when the node does not have the block: asked for a block number the
	// node claims to have, such a null is the node's gap, not the answer.
	NullIfMissing bool
}

// methods is the table of known methods. Known names are interned so a call's
// Method string costs no allocation, and metrics label only these names.
var methods = map[string]MethodInfo{
	"eth_blockNumber":                         {BlockParam: -1},
	"eth_chainId":                             {BlockParam: -1},
	"net_version":                             {BlockParam: -1},
	"net_listening":                           {BlockParam: -1},
	"net_peerCount":                           {BlockParam: -1},
	"web3_clientVersion":                      {BlockParam: -1},
	"web3_sha3":                               {BlockParam: -1},
	"eth_syncing":                             {BlockParam: -1},
	"eth_gasPrice":                            {BlockParam: -1},
	"eth_maxPriorityFeePerGas":                {BlockParam: -1},
	"eth_blobBaseFee":                         {BlockParam: -1},
	"eth_feeHistory":                          {BlockParam: 1},
	"eth_getBalance":                          {BlockParam: 1, State: true},
	"eth_getCode":                             {BlockParam: 1, State: true},
	"eth_getTransactionCount":                 {BlockParam: 1, State: true},
	"eth_getStorageAt":                        {BlockParam: 2, State: true},
	"eth_getProof":                            {BlockParam: 2, State: true},
	"eth_call":                                {BlockParam: 1, State: true},
	"eth_estimateGas":                         {BlockParam: 1, State: true},
	"eth_createAccessList":                    {BlockParam: 1, State: true},
	"eth_simulateV1":                          {BlockParam: 1, State: true},
	"eth_getBlockByNumber":                    {BlockParam: 0, NullIfMissing: true},
	"eth_getBlockByHash":                      {BlockParam: -1, ByHash: true},
	"eth_getBlockReceipts":                    {BlockParam: 0, NullIfMissing: true},
	"eth_getBlockTransactionCountByNumber":    {BlockParam: 0, NullIfMissing: true},
	"eth_getBlockTransactionCountByHash":      {BlockParam: -1, ByHash: true},
	"eth_getTransactionByBlockNumberAndIndex": {BlockParam: 0},
	"eth_getTransactionByBlockHashAndIndex":   {BlockParam: -1, ByHash: true},
	"eth_getUncleCountByBlockNumber":          {BlockParam: 0, NullIfMissing: true},
	"eth_getUncleByBlockNumberAndIndex":       {BlockParam: 0},
	"eth_getTransactionByHash":                {BlockParam: -1, ByHash: true},
	"eth_getTransactionReceipt":               {BlockParam: -1, ByHash: true},
	"eth_getLogs":                             {BlockParam: -1, Filter: true},
	"eth_newFilter":                           {BlockParam: -1, Filter: true},
	"eth_newBlockFilter":                      {BlockParam: -1},
	"eth_newPendingTransactionFilter":         {BlockParam: -1},
	"eth_getFilterChanges":                    {BlockParam: -1},
	"eth_getFilterLogs":                       {BlockParam: -1},
	"eth_uninstallFilter":                     {BlockParam: -1},
	"eth_sendRawTransaction":                  {BlockParam: -1, SendTx: true},
	"eth_sendRawTransactionSync":              {BlockParam: -1, SendTx: true},
	"eth_subscribe":                           {BlockParam: -1, Subscription: true},
	"eth_unsubscribe":                         {BlockParam: -1, Subscription: true},
	"eth_config":                              {BlockParam: -1},
	"eth_getStorageValues":                    {BlockParam: -1},
	"debug_traceTransaction":                  {BlockParam: -1, ByHash: true},
	"debug_traceBlockByNumber":                {BlockParam: 0, State: true},
	"debug_traceBlockByHash":                  {BlockParam: -1, ByHash: true},
	"debug_traceCall":                         {BlockParam: 1, State: true},
	"debug_getRawBlock":                       {BlockParam: 0},
	"debug_getRawHeader":                      {BlockParam: 0},
	"debug_getRawReceipts":                    {BlockParam: 0},
	"debug_getRawTransaction":                 {BlockParam: -1},
	"trace_block":                             {BlockParam: 0, State: true},
	"trace_transaction":                       {BlockParam: -1, ByHash: true},
	"txpool_content":                          {BlockParam: -1},
	"txpool_contentFrom":                      {BlockParam: -1},
	"txpool_status":                           {BlockParam: -1},
}

var interned = func() map[string]string {
	m := make(map[string]string, len(methods))
	for k := range methods {
		m[k] = k
	}
	return m
}()

func internMethod(b []byte) string {
	if s, ok := interned[string(b)]; ok {
		return s
	}
	return string(b)
}

// Info returns the method's routing facts; unknown methods have none.
func Info(method string) MethodInfo {
	if mi, ok := methods[method]; ok {
		return mi
	}
	return MethodInfo{BlockParam: -1}
}

// Known reports whether method is in the table (metrics label it by name;
// others are labelled "other").
func Known(method string) bool {
	_, ok := methods[method]
	return ok
}

// Label returns the method name for a metric label: the name when known,
// otherwise "other", so client input never makes labels unbounded.
func Label(method string) string {
	if _, ok := methods[method]; ok {
		return method
	}
	return "other"
}

// BlockNumber returns the explicit block number a call asks for, when its
// block parameter is a hex number (tags such as "latest" return ok=false).
// Routing uses it to send the call only to nodes that have that block.
func (c *Call) BlockNumber() (n uint64, ok bool) {
	info := Info(c.Method)
	if info.Filter {
		return filterBlock(c.param(0))
	}
	if info.BlockParam < 0 {
		return 0, false
	}
	return blockRef(c.param(info.BlockParam))
}

// ByHash reports whether the call looks something up by hash: a method of
// lookups by hash, or a block parameter that is a block hash (EIP-1898's
// {"blockHash": ...}, or the hash itself where a method takes one, as
// eth_getBlockReceipts does). A node behind the head may not know it yet.
func (c *Call) ByHash() bool {
	info := Info(c.Method)
	if info.ByHash {
		return true
	}
	if info.BlockParam < 0 || info.Filter {
		return false
	}
	v := c.param(info.BlockParam)
	if len(v) > 0 && v[0] == '{' {
		hash := false
		_ = eachMember(v, func(k, _ []byte) {
			if string(k) == "blockHash" {
				hash = true
			}
		})
		return hash
	}
	return len(v) == 68 && v[0] == '"' && v[1] == '0' && (v[2] == 'x' || v[2] == 'X') && v[67] == '"'
}

// FilterNew reports whether method makes a filter on the node that answers
// it (its result is the filter's id): the filter lives there alone.
func FilterNew(method string) bool {
	switch method {
	case "eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter":
		return true
	}
	return false
}

// FilterID returns the id of the filter the call uses (eth_getFilterChanges,
// eth_getFilterLogs, eth_uninstallFilter): its first parameter, unquoted.
func (c *Call) FilterID() (string, bool) {
	switch c.Method {
	case "eth_getFilterChanges", "eth_getFilterLogs", "eth_uninstallFilter":
		return FilterIDOf(c.param(0))
	}
	return "", false
}

// FilterIDOf reads a filter id written as a JSON string (a result of
// FilterNew's methods, a parameter of FilterID's), lower-cased as nodes
// compare them.
func FilterIDOf(v []byte) (string, bool) {
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	return strings.ToLower(string(v[1 : len(v)-1])), true
}

// StateBlock returns the block whose state the call reads, when the
// method reads state and its block parameter is a hex number.
func (c *Call) StateBlock() (n uint64, ok bool) {
	info := Info(c.Method)
	if !info.State || info.BlockParam < 0 {
		return 0, false
	}
	return blockRef(c.param(info.BlockParam))
}

// ReadsHead reports whether the call reads the chain at its head:
// eth_blockNumber, calls of a method with a block parameter that is
// "latest" or "pending", or omitted (nodes then read "latest"), and
// eth_getLogs whose range ends there (toBlock "latest", "pending" or
// omitted, no blockHash).
func (c *Call) ReadsHead() bool {
	switch c.Method {
	case "eth_blockNumber":
		return true
	case "eth_getLogs":
		return filterToHead(c.param(0))
	}
	info := Info(c.Method)
	if info.BlockParam < 0 || info.Filter {
		return false
	}
	switch v := c.param(info.BlockParam); string(v) {
	case "", `"latest"`, `"pending"`:
		return true
	}
	return false
}

// IsPending reports whether the call's block parameter is "pending".
func (c *Call) IsPending() bool {
	info := Info(c.Method)
	return info.BlockParam >= 0 && !info.Filter && string(c.param(info.BlockParam)) == `"pending"`
}

// FirstParam returns the first parameter's raw value (nil when absent).
func (c *Call) FirstParam() []byte { return c.param(0) }

// param returns the raw value of the parameter at pos, nil when the call
// has fewer parameters or its params are not an array.
func (c *Call) param(pos int) []byte {
	if c.blockAt == pos+1 {
		return c.blockVal
	}
	return c.findParam(pos)
}

// findBlockParam finds, once when the call is read, the parameter that
// routing reads: the filter or the block parameter.
func (c *Call) findBlockParam(info MethodInfo) {
	pos := info.BlockParam
	if info.Filter {
		pos = 0
	}
	if pos >= 0 {
		c.blockAt, c.blockVal = pos+1, c.findParam(pos)
	}
}

func (c *Call) findParam(pos int) []byte {
	if len(c.Params) < 2 || c.Params[0] != '[' {
		return nil
	}
	idx := 0
	i := skipSpace(c.Params, 1)
	for i < len(c.Params) && c.Params[i] != ']' {
		e, err := skipValue(c.Params, i)
		if err != nil {
			return nil
		}
		if idx == pos {
			return c.Params[i:e]
		}
		idx++
		i = skipSpace(c.Params, e)
		if i < len(c.Params) && c.Params[i] == ',' {
			i = skipSpace(c.Params, i+1)
		}
	}
	return nil
}

// blockRef reads a block parameter: a hex number, or an EIP-1898 object
// {"blockNumber": "0x.."}.
func blockRef(val []byte) (uint64, bool) {
	if len(val) > 0 && val[0] == '{' {
		var num []byte
		_ = eachMember(val, func(k, v []byte) {
			if string(k) == "blockNumber" {
				num = v
			}
		})
		val = num
	}
	return parseHexQuantity(val)
}

// filterToHead reports whether a log filter's range ends at the head.
func filterToHead(filter []byte) bool {
	if len(filter) == 0 || filter[0] != '{' {
		return false
	}
	head := true // toBlock omitted: "latest"
	_ = eachMember(filter, func(k, v []byte) {
		switch string(k) {
		case "blockHash":
			head = false
		case "toBlock": // null is "latest" to the nodes
			head = head && (string(v) == `"latest"` || string(v) == `"pending"` || string(v) == "null")
		}
	})
	return head
}

// filterBlock returns the highest explicit block number of a log filter's
// fromBlock and toBlock (a node must have it to answer).
func filterBlock(filter []byte) (n uint64, ok bool) {
	if len(filter) == 0 || filter[0] != '{' {
		return 0, false
	}
	_ = eachMember(filter, func(k, v []byte) {
		if string(k) == "fromBlock" || string(k) == "toBlock" {
			if b, isNum := parseHexQuantity(v); isNum && (!ok || b > n) {
				n, ok = b, true
			}
		}
	})
	return n, ok
}

// ResultIsNull reports whether a response, or its prefix, holds a null
// result (a by-hash lookup that found nothing).
func ResultIsNull(prefix []byte) bool {
	var s ResponseScan
	return s.Scan(prefix, true) == Result && s.ResultNull(prefix)
}

func parseHexQuantity(v []byte) (uint64, bool) {
	if len(v) < 5 || v[0] != '"' || v[1] != '0' || (v[2] != 'x' && v[2] != 'X') || v[len(v)-1] != '"' {
		return 0, false
	}
	digits := v[3 : len(v)-1]
	if len(digits) > 16 {
		return 0, false
	}
	var n uint64
	for _, d := range digits {
		switch {
		case d >= '0' && d <= '9':
			n = n<<4 | uint64(d-'0')
		case d >= 'a' && d <= 'f':
			n = n<<4 | uint64(d-'a'+10)
		case d >= 'A' && d <= 'F':
			n = n<<4 | uint64(d-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// ParseQuantity parses a JSON hex quantity such as "0x1b4" (quotes included).
func ParseQuantity(v []byte) (uint64, bool) { return parseHexQuantity(v) }
