package jsonrpc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Member names are read differently by different nodes: go-ethereum
// (encoding/json) decodes escapes in a name, matches names regardless of
// letter case and takes the last of two members of one name; other clients
// do none of this or take the first. A call written so that its method,
// params or a block it names depend on which reading is taken would be
// routed, limited and cached by the gateway as one call and answered by
// the node as another, so it is refused.

// envelopeNames are the members of a request object.
var envelopeNames = []string{"jsonrpc", "id", "method", "params"}

// paramNames are the members the gateway reads in an object parameter: a
// log filter and an EIP-1898 block reference.
var paramNames = []string{"fromBlock", "toBlock", "blockHash", "blockNumber", "requireCanonical", "address", "topics"}

// names tracks which of a list of names an object has, and finds the first
// member that makes the object ambiguous.
type names struct {
	list  []string
	seen  uint16
	twice uint16 // names that may come twice, the last one read
}

// add classifies the raw member name key: the index of the name it is
// (-1 when none) and whether it is ambiguous: a name given twice, or a
// member written with escapes or in other letter case that a node may
// read as one of the names.
func (n *names) add(key []byte) (idx int, ambiguous bool) {
	for i, name := range n.list {
		if string(key) == name {
			bit := uint16(1) << i
			dup := n.seen&bit != 0 && n.twice&bit == 0
			n.seen |= bit
			return i, dup
		}
	}
	plain := true // ASCII without escapes: folds only to a name of its length
	for _, c := range key {
		if c >= 0x80 || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		for _, name := range n.list {
			if len(key) == len(name) && bytes.EqualFold(key, []byte(name)) {
				return -1, true
			}
		}
		return -1, false
	}
	decoded := key
	if bytes.IndexByte(key, '\\') >= 0 {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &s) != nil {
			return -1, true
		}
		decoded = []byte(s)
	}
	for _, name := range n.list {
		if bytes.EqualFold(decoded, []byte(name)) {
			return -1, true
		}
	}
	return -1, false
}

// ambiguousParam returns an error when an object parameter the gateway
// reads (a log filter, an EIP-1898 block reference) holds an ambiguous
// member, or a block number or hash written with escapes; nil otherwise.
// Other parameters go to the node as sent and are not read.
func (c *Call) ambiguousParam(info MethodInfo) *Error {
	for pos := range 2 {
		switch {
		case pos == 0 && !info.Filter, pos == 1 && (info.BlockParam < 0 || info.Filter && info.BlockParam == 0):
			continue
		}
		at := 0
		if pos == 1 {
			at = info.BlockParam
		}
		p := c.param(at)
		if len(p) == 0 || p[0] != '{' {
			continue
		}
		n := names{list: paramNames}
		var bad []byte
		_ = eachMember(p, func(k, v []byte) {
			i, amb := n.add(k)
			if bad == nil && (amb || i >= 0 && i <= 3 && bytes.IndexByte(v, '\\') >= 0) {
				bad = k
			}
		})
		if bad != nil {
			return NewError(CodeInvalidParams, fmt.Sprintf("invalid params: member \"%s\" of parameter %d may be read differently by different nodes "+
				"(a second member of that name, escapes, or other letter case): write each of %s at most once, as is", shown(bad), at+1,
				"fromBlock, toBlock, blockHash, blockNumber, requireCanonical, address and topics"))
		}
	}
	return nil
}

// shown is a member name as the client wrote it, cut for a message.
func shown(key []byte) string {
	if len(key) > 64 {
		return string(key[:64]) + "…"
	}
	return string(key)
}
