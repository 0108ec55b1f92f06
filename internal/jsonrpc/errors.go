package jsonrpc

import (
	"encoding/json"
	"strconv"
)

// JSON-RPC 2.0 error codes, and the gateway's own in the server range.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	// CodeLimitExceeded: the request is over a limit the gateway sets
	// (EIP-1474), such as max_logs_block_range.
	CodeLimitExceeded = -32005

	// CodeNoNodes: no node of the network could answer the call.
	CodeNoNodes = -32050
	// CodeOverloaded: the call's priority queue is full.
	CodeOverloaded = -32051
	// CodeTimeout: the call's deadline passed before a node answered.
	CodeTimeout = -32052
	// CodeBatchTooLarge: the batch has more calls than max_batch_size.
	CodeBatchTooLarge = -32053
	// CodeTooLarge: the request body is over max_body_bytes.
	CodeTooLarge = -32054
	// CodeAnswerTooLarge: the node's answer is over what the gateway holds
	// in memory (a batch's answer, an error answer).
	CodeAnswerTooLarge = -32055
	// CodeShuttingDown: the gateway shut down while the call was in
	// flight (its shutdown_grace ended); retry it on another replica
	// (HTTP 503 with Retry-After).
	CodeShuttingDown = -32056

	// CodeUnauthorized: no API key or token, or one that is wrong,
	// expired or revoked (HTTP 401).
	CodeUnauthorized = -32070
	// CodeForbidden: the key may not call this network or method (HTTP 403).
	CodeForbidden = -32071
	// CodeMethodNotOffered: the method is not offered on this endpoint
	// (method policy, HTTP 403).
	CodeMethodNotOffered = -32072
	// CodeRateLimited: over a rate limit; retry after Retry-After (HTTP 429).
	CodeRateLimited = -32073
	// CodeQuotaExceeded: the key's daily quota is used up (HTTP 429).
	CodeQuotaExceeded = -32074
	// CodeLimiterUnavailable: shared limits are fail-closed and Redis
	// cannot be reached (HTTP 503).
	CodeLimiterUnavailable = -32075
)

// Error is a JSON-RPC error object produced by the gateway itself.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// NewError returns an Error.
func NewError(code int, msg string) *Error { return &Error{Code: code, Message: msg} }

func (e *Error) Error() string { return e.Message + " (code " + strconv.Itoa(e.Code) + ")" }

// ErrorCode returns the JSON-RPC code.
func (e *Error) ErrorCode() int { return e.Code }

// AppendResponse appends a full error response for id (nil id => null).
func (e *Error) AppendResponse(dst, id []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	if id == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, id...)
	}
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, e.Message)
	switch d := e.Data.(type) {
	case nil:
	case json.RawMessage:
		dst = append(append(dst, `,"data":`...), d...)
	default:
		if b, err := json.Marshal(d); err == nil {
			dst = append(append(dst, `,"data":`...), b...)
		}
	}
	return append(dst, "}}"...)
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
