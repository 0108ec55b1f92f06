package devnet

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
)

// Engine API methods of the Osaka fork, the one mainnet runs in 2026.
const (
	MethodForkchoiceUpdated = "engine_forkchoiceUpdatedV3"
	MethodGetPayload        = "engine_getPayloadV5"
	MethodNewPayload        = "engine_newPayloadV4"
)

// Payload status values (PayloadStatusV1.status).
const (
	StatusValid            = "VALID"
	StatusInvalid          = "INVALID"
	StatusSyncing          = "SYNCING"
	StatusAccepted         = "ACCEPTED"
	StatusInvalidBlockHash = "INVALID_BLOCK_HASH"
)

// maxResponseBytes bounds what the Driver reads from one response.
const maxResponseBytes = 64 << 20

// PayloadAttributes is PayloadAttributesV3, the attributes of
// engine_forkchoiceUpdatedV3.
type PayloadAttributes struct {
	Timestamp             hexutil.Uint64      `json:"timestamp"`
	PrevRandao            common.Hash         `json:"prevRandao"`
	SuggestedFeeRecipient common.Address      `json:"suggestedFeeRecipient"`
	Withdrawals           []*types.Withdrawal `json:"withdrawals"`
	ParentBeaconBlockRoot common.Hash         `json:"parentBeaconBlockRoot"`
}

// PayloadStatus is PayloadStatusV1.
type PayloadStatus struct {
	Status          string       `json:"status"`
	LatestValidHash *common.Hash `json:"latestValidHash"`
	ValidationError *string      `json:"validationError"`
}

// String renders the status for messages.
func (s PayloadStatus) String() string {
	out := s.Status
	if s.LatestValidHash != nil {
		out += " lvh=" + s.LatestValidHash.Hex()
	}
	if s.ValidationError != nil {
		out += " err=" + strconv.Quote(*s.ValidationError)
	}
	return out
}

// RPCError is a JSON-RPC error object returned by the server.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *RPCError) Error() string {
	if len(e.Data) > 0 {
		return fmt.Sprintf("json-rpc error %d: %s (data %s)", e.Code, e.Message, e.Data)
	}
	return fmt.Sprintf("json-rpc error %d: %s", e.Code, e.Message)
}

// HTTPError is a non-200 HTTP answer, such as geth's 401 for a bad JWT.
type HTTPError struct {
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("http status %d: %s", e.StatusCode, e.Body)
}

// Driver calls JSON-RPC methods on one URL. With a secret it adds a fresh
// HS256 JWT ({"iat": now}) to every request, as a consensus client does.
// A Driver is safe for concurrent use.
type Driver struct {
	url    string
	secret []byte
	client *http.Client
	nextID atomic.Uint64
}

// NewDriver returns a Driver for url. A nil or empty secret sends no
// Authorization header (plain JSON-RPC).
func NewDriver(url string, secret []byte) *Driver {
	return &Driver{
		url:    url,
		secret: bytes.Clone(secret),
		client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
}

// URL returns the endpoint the Driver calls.
func (d *Driver) URL() string { return d.url }

// Close releases the Driver's idle connections.
func (d *Driver) Close() { d.client.CloseIdleConnections() }

// Token returns a fresh HS256 JWT for the Driver's secret issued at iat.
func (d *Driver) Token(iat time.Time) string { return MintJWT(d.secret, iat) }

// MintJWT returns an HS256 JWT with the single claim {"iat": iat}.
func MintJWT(secret []byte, iat time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(`{"iat":` + strconv.FormatInt(iat.Unix(), 10) + `}`))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))
}

type rpcResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *RPCError       `json:"error"`
}

// Call invokes method with params and returns the raw result. A JSON-RPC
// error comes back as *RPCError, a non-200 answer as *HTTPError.
func (d *Driver) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	body, err := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": d.nextID.Add(1), "method": method, "params": params,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding %s request: %w", method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building %s request: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if len(d.secret) > 0 {
		req.Header.Set("Authorization", "Bearer "+MintJWT(d.secret, time.Now()))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", method, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading %s response: %w", method, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("calling %s: %w", method, &HTTPError{StatusCode: resp.StatusCode, Body: string(bytes.TrimSpace(raw))})
	}
	var out rpcResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding %s response: %w", method, err)
	}
	if out.Error != nil {
		return nil, fmt.Errorf("calling %s: %w", method, out.Error)
	}
	if out.Result == nil {
		return nil, fmt.Errorf("calling %s: %w", method, errors.New("response has neither result nor error"))
	}
	return out.Result, nil
}

// ForkchoiceUpdated calls engine_forkchoiceUpdatedV3. attrs may be nil. The
// payload id is "" when the node started no build.
func (d *Driver) ForkchoiceUpdated(ctx context.Context, head, safe, final common.Hash, attrs *PayloadAttributes) (PayloadStatus, string, error) {
	state := map[string]common.Hash{
		"headBlockHash": head, "safeBlockHash": safe, "finalizedBlockHash": final,
	}
	var raw json.RawMessage
	var err error
	if attrs == nil {
		raw, err = d.Call(ctx, MethodForkchoiceUpdated, state, nil)
	} else {
		raw, err = d.Call(ctx, MethodForkchoiceUpdated, state, attrs)
	}
	if err != nil {
		return PayloadStatus{}, "", err
	}
	var out struct {
		PayloadStatus PayloadStatus `json:"payloadStatus"`
		PayloadID     *string       `json:"payloadId"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return PayloadStatus{}, "", fmt.Errorf("decoding forkchoice response: %w", err)
	}
	id := ""
	if out.PayloadID != nil {
		id = *out.PayloadID
	}
	return out.PayloadStatus, id, nil
}

// GetPayload calls engine_getPayloadV5 and returns the executionPayload and
// the whole envelope, both exactly as the server sent them.
func (d *Driver) GetPayload(ctx context.Context, id string) (payload, envelope json.RawMessage, err error) {
	envelope, err = d.Call(ctx, MethodGetPayload, id)
	if err != nil {
		return nil, nil, err
	}
	var env struct {
		ExecutionPayload json.RawMessage `json:"executionPayload"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, nil, fmt.Errorf("decoding payload envelope: %w", err)
	}
	if len(env.ExecutionPayload) == 0 {
		return nil, nil, errors.New("decoding payload envelope: no executionPayload")
	}
	return env.ExecutionPayload, envelope, nil
}

// NewPayload calls engine_newPayloadV4 with the payload bytes unchanged.
// Nil versionedHashes and requests are sent as empty arrays.
func (d *Driver) NewPayload(ctx context.Context, payload json.RawMessage, versionedHashes []common.Hash, beaconRoot common.Hash, requests []hexutil.Bytes) (PayloadStatus, error) {
	if versionedHashes == nil {
		versionedHashes = []common.Hash{}
	}
	if requests == nil {
		requests = []hexutil.Bytes{}
	}
	raw, err := d.Call(ctx, MethodNewPayload, payload, versionedHashes, beaconRoot, requests)
	if err != nil {
		return PayloadStatus{}, err
	}
	var st PayloadStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return PayloadStatus{}, fmt.Errorf("decoding payload status: %w", err)
	}
	return st, nil
}

// NewPayloadBlock sends a block recorded by a Net with its own beacon root
// and execution requests.
func (d *Driver) NewPayloadBlock(ctx context.Context, b Block) (PayloadStatus, error) {
	return d.NewPayload(ctx, b.Payload, nil, b.BeaconRoot, b.Requests)
}
