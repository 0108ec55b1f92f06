package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

var errUnknownPayload = &rpcError{codeUnknownPayload, "Unknown payload"}

// getPayload asks every node that builds under the gateway's payloadId, each
// with its own id, within the getPayload deadline (under the spec's 1 s), and
// returns the envelope with the highest blockValue; without any blockValue
// (getPayloadV1), the first valid answer in configuration order. The chosen
// node's result goes back byte for byte.
func (m *Mux) getPayload(ctx context.Context, c request) reply {
	var params []json.RawMessage
	if err := json.Unmarshal(c.Params, &params); err != nil || len(params) == 0 {
		return errorReply(&rpcError{jsonrpc.CodeInvalidParams, "invalid params: want [payloadId]"})
	}
	var id string
	if err := json.Unmarshal(params[0], &id); err != nil {
		return errorReply(&rpcError{jsonrpc.CodeInvalidParams, "invalid params: payloadId must be a hex string"})
	}
	builds, ok := m.payloads.get(id)
	if !ok {
		return errorReply(errUnknownPayload)
	}
	ctx, cancel := context.WithTimeout(ctx, m.dur.getPayload)
	defer cancel()
	results := make([]outcome, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		if b.node == nil {
			results[i].err = errUnknownPayload
			continue
		}
		p := append([]json.RawMessage{b.id}, params[1:]...)
		pb, _ := json.Marshal(p)
		body := encodeCall(m.callID.Add(1), c.Method, pb)
		wg.Go(func() {
			start := time.Now()
			resp, err := m.post(ctx, b.node, body, m.dur.getPayload)
			results[i] = outcome{resp: resp, err: err, took: time.Since(start)}
			m.observe(b.node, "getPayload", results[i].took, err)
		})
	}
	wg.Wait()
	return m.bestPayload(builds, results)
}

// bestPayload picks the answer to return: the highest blockValue, ties and
// missing values going to configuration order.
func (m *Mux) bestPayload(builds []build, results []outcome) reply {
	best, bestVal := -1, (*big.Int)(nil)
	firstErr := -1
	for i, r := range results {
		if r.err != nil {
			continue
		}
		if r.resp.failed() {
			if firstErr < 0 {
				firstErr = i
			}
			continue
		}
		if !isObject(r.resp.Result) {
			m.metrics.garbage.WithLabelValues(builds[i].node.name).Inc()
			continue
		}
		val, ok := blockValue(r.resp.Result)
		if !ok {
			if best < 0 {
				best = i
			}
			continue
		}
		if bestVal == nil || val.Cmp(bestVal) > 0 {
			best, bestVal = i, val
		}
	}
	switch {
	case best >= 0:
		if len(builds) > 1 {
			m.log.Debug("engine payload chosen", "node", builds[best].node.name, "value", bestVal)
		}
		return reply{result: results[best].resp.Result}
	case firstErr >= 0:
		return results[firstErr].resp.asReply()
	}
	return errorReply(&rpcError{codeServer, "no execution client delivered the payload in time"})
}

// blockValue reads the envelope's blockValue; ok is false when there is none
// (getPayloadV1 returns the bare payload) or it is not a hex quantity.
func blockValue(result json.RawMessage) (*big.Int, bool) {
	var env struct {
		BlockValue string `json:"blockValue"`
	}
	if err := json.Unmarshal(result, &env); err != nil {
		return nil, false
	}
	h, ok := strings.CutPrefix(env.BlockValue, "0x")
	if !ok || h == "" || len(h) > 64 {
		return nil, false
	}
	v, ok := new(big.Int).SetString(h, 16)
	return v, ok
}

// isObject reports whether a result is a JSON object: a payload or an
// envelope, as opposed to garbage such as null or a string.
func isObject(result json.RawMessage) bool {
	b := bytes.TrimLeft(result, " \t\r\n")
	return len(b) > 0 && b[0] == '{' // post already checked the JSON
}
