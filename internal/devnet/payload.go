package devnet

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/beacon/engine"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Block is one block a Net produced, with everything needed to replay it
// through engine_newPayloadV4.
type Block struct {
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Timestamp  uint64
	TxCount    int
	// Payload is the executionPayload exactly as getPayload returned it.
	Payload json.RawMessage
	// Envelope is the whole getPayload result.
	Envelope   json.RawMessage
	BeaconRoot common.Hash
	Requests   []hexutil.Bytes
}

// BeaconRoot is the parent beacon block root a Net puts in the attributes of
// the block with this parent and timestamp. Deriving it from the payload's
// own fields lets TamperStateRoot recompute a block hash from the payload
// alone.
func BeaconRoot(parent common.Hash, timestamp uint64) common.Hash {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], timestamp)
	return crypto.Keccak256Hash([]byte("evmgate devnet beacon root"), parent[:], ts[:])
}

// decodeBlock reads the fields a Net keeps from a getPayload envelope.
func NewBlock(payload, envelope json.RawMessage, beaconRoot common.Hash) (Block, error) {
	var ed engine.ExecutableData
	if err := json.Unmarshal(payload, &ed); err != nil {
		return Block{}, fmt.Errorf("decoding execution payload: %w", err)
	}
	var env struct {
		Requests []hexutil.Bytes `json:"executionRequests"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return Block{}, fmt.Errorf("decoding payload envelope: %w", err)
	}
	return Block{
		Number:     ed.Number,
		Hash:       ed.BlockHash,
		ParentHash: ed.ParentHash,
		Timestamp:  ed.Timestamp,
		TxCount:    len(ed.Transactions),
		Payload:    payload,
		Envelope:   envelope,
		BeaconRoot: beaconRoot,
		Requests:   env.Requests,
	}, nil
}

// payloadHash computes the block hash of ed for the given beacon root and
// execution requests, ignoring ed.BlockHash.
func payloadHash(ed engine.ExecutableData, beaconRoot common.Hash, requests []hexutil.Bytes) (common.Hash, error) {
	reqs := make([][]byte, len(requests))
	for i, r := range requests {
		reqs[i] = r
	}
	block, err := engine.ExecutableDataToBlockNoHash(ed, nil, &beaconRoot, reqs)
	if err != nil {
		return common.Hash{}, fmt.Errorf("assembling block from payload: %w", err)
	}
	return block.Hash(), nil
}

// TamperStateRoot returns payload with a different stateRoot and a block
// hash recomputed to match, so the block is well formed but fails
// execution (INVALID, "invalid merkle root"). It expects a payload a Net
// built (beacon root from BeaconRoot, no execution requests) and checks
// that assumption against the original hash; otherwise use
// TamperStateRootWith.
func TamperStateRoot(payload json.RawMessage) (json.RawMessage, error) {
	var head struct {
		ParentHash common.Hash    `json:"parentHash"`
		Timestamp  hexutil.Uint64 `json:"timestamp"`
	}
	if err := json.Unmarshal(payload, &head); err != nil {
		return nil, fmt.Errorf("decoding execution payload: %w", err)
	}
	return TamperStateRootWith(payload, BeaconRoot(head.ParentHash, uint64(head.Timestamp)), nil)
}

// TamperStateRootWith is TamperStateRoot for a payload built with any beacon
// root and execution requests.
func TamperStateRootWith(payload json.RawMessage, beaconRoot common.Hash, requests []hexutil.Bytes) (json.RawMessage, error) {
	var ed engine.ExecutableData
	if err := json.Unmarshal(payload, &ed); err != nil {
		return nil, fmt.Errorf("decoding execution payload: %w", err)
	}
	orig, err := payloadHash(ed, beaconRoot, requests)
	if err != nil {
		return nil, err
	}
	if orig != ed.BlockHash {
		return nil, fmt.Errorf("recomputing block hash: got %s, payload says %s (wrong beacon root or requests)", orig, ed.BlockHash)
	}
	ed.StateRoot = crypto.Keccak256Hash(ed.StateRoot[:])
	if ed.BlockHash, err = payloadHash(ed, beaconRoot, requests); err != nil {
		return nil, err
	}
	out, err := json.Marshal(&ed)
	if err != nil {
		return nil, fmt.Errorf("encoding execution payload: %w", err)
	}
	return out, nil
}

// TamperBlockHash returns payload with only its blockHash changed, so the
// hash no longer matches the contents (INVALID, "blockhash mismatch").
func TamperBlockHash(payload json.RawMessage) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		return nil, fmt.Errorf("decoding execution payload: %w", err)
	}
	var h common.Hash
	if err := json.Unmarshal(fields["blockHash"], &h); err != nil {
		return nil, fmt.Errorf("decoding blockHash: %w", err)
	}
	h = crypto.Keccak256Hash(h[:])
	enc, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encoding blockHash: %w", err)
	}
	fields["blockHash"] = enc
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encoding execution payload: %w", err)
	}
	return out, nil
}

// PayloadHash returns the blockHash field of a raw execution payload.
func PayloadHash(payload json.RawMessage) (common.Hash, error) {
	var f struct {
		BlockHash common.Hash `json:"blockHash"`
	}
	if err := json.Unmarshal(payload, &f); err != nil {
		return common.Hash{}, fmt.Errorf("decoding execution payload: %w", err)
	}
	return f.BlockHash, nil
}
