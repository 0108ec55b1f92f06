package subs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/evmgate/evmgate/internal/upstream"
)

// errNotFound is a null result: the node does not have what was asked.
var errNotFound = errors.New("not found on the node")

// call sends one request to n over HTTP and returns its result.
func call(ctx context.Context, n *upstream.Node, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", method, err)
	}
	// The gateway's own fetch: never held behind the node's long calls.
	resp, err := n.Call(upstream.AsBackground(ctx), body)
	if err != nil {
		return nil, fmt.Errorf("calling %s on %s: %w", method, n.Name, err)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, fmt.Errorf("decoding %s answer of %s: %w", method, n.Name, err)
	}
	if out.Error != nil {
		return nil, fmt.Errorf("calling %s on %s: %s (code %d)", method, n.Name, out.Error.Message, out.Error.Code)
	}
	if len(out.Result) == 0 || string(out.Result) == "null" {
		return nil, fmt.Errorf("calling %s on %s: %w", method, n.Name, errNotFound)
	}
	return out.Result, nil
}

// blockNumber returns n's head number.
func blockNumber(ctx context.Context, n *upstream.Node) (uint64, error) {
	raw, err := call(ctx, n, "eth_blockNumber")
	if err != nil {
		return 0, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("decoding eth_blockNumber of %s: %w", n.Name, err)
	}
	return parseQuantity(s)
}

// blockByHash and blockByNumber return a block without its transactions' bodies.
func blockByHash(ctx context.Context, n *upstream.Node, hash string) (json.RawMessage, error) {
	return call(ctx, n, "eth_getBlockByHash", hash, false)
}

func blockByNumber(ctx context.Context, n *upstream.Node, tag string) (json.RawMessage, error) {
	return call(ctx, n, "eth_getBlockByNumber", tag, false)
}

// getLogs runs eth_getLogs for the request's filter over a range or a block hash.
func getLogs(ctx context.Context, n *upstream.Node, r *request, from, to uint64, blockHash string) ([]json.RawMessage, error) {
	f := map[string]any{}
	if blockHash != "" {
		f["blockHash"] = blockHash
	} else {
		f["fromBlock"], f["toBlock"] = quantity(from), quantity(to)
	}
	if r.address != nil {
		f["address"] = r.address
	}
	if r.topics != nil {
		f["topics"] = r.topics
	}
	raw, err := call(ctx, n, "eth_getLogs", f)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var logs []json.RawMessage
	if err := json.Unmarshal(raw, &logs); err != nil {
		return nil, fmt.Errorf("decoding eth_getLogs of %s: %w", n.Name, err)
	}
	return logs, nil
}

func quantity(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

func parseQuantity(s string) (uint64, error) {
	if !strings.HasPrefix(s, "0x") && !strings.HasPrefix(s, "0X") {
		return 0, fmt.Errorf("quantity %q has no 0x prefix", s)
	}
	v, err := strconv.ParseUint(s[2:], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing quantity %q: %w", s, err)
	}
	return v, nil
}

// member is one top-level member of a JSON object, in document order.
type member struct {
	key string
	val json.RawMessage
}

// members returns the top-level members of a JSON object in order.
func members(raw []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("reading object key: %w", err)
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("reading member %q: %w", key, err)
		}
		out = append(out, member{key: key, val: v})
	}
	return out, nil
}

// object writes members back as a compact JSON object.
func object(ms []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		_ = json.Compact(&b, m.val)
	}
	b.WriteByte('}')
	return b.Bytes()
}
