package access

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// The refusals. None holds a key or a token; a key's name may appear.
var (
	errMissing = jsonrpc.NewError(jsonrpc.CodeUnauthorized,
		"an API key is required: put it in the path (/<network>/<key>), the X-API-Key header or Authorization: Bearer")
	errUnknownKey = jsonrpc.NewError(jsonrpc.CodeUnauthorized, "the API key is not valid: check it, or ask for a new one")
	errBadToken   = "the token is not valid: "
	errKeysUnread = jsonrpc.NewError(jsonrpc.CodeLimiterUnavailable,
		"the runtime API keys cannot be read yet (the key store is unreachable) and may require a key: send one, or retry shortly")
	errLimiter = jsonrpc.NewError(jsonrpc.CodeLimiterUnavailable,
		"rate limits cannot be checked now (the shared store is unreachable): retry shortly")
)

func errRevoked(name string) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeUnauthorized, fmt.Sprintf("the API key %q was revoked", name))
}

// errKeyGone refuses a key that a connection gave and that the keys no
// longer hold: the connection knows its name, which the secret alone
// does not tell.
func errKeyGone(name string) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeUnauthorized, fmt.Sprintf("the API key %q is no longer valid: it was removed; ask for a new one", name))
}

// errTokenExpired refuses a token past its exp (and the leeway).
var errTokenExpired = jsonrpc.NewError(jsonrpc.CodeUnauthorized, errBadToken+"it expired (exp)")

func errExpired(name string, at time.Time) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeUnauthorized,
		fmt.Sprintf("the API key %q expired at %s", name, at.UTC().Format(time.RFC3339)))
}

func errNetwork(name, network string) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeForbidden, fmt.Sprintf("the API key %q may not call network %q", name, network))
}

func errKeyMethod(name, method string) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeForbidden, fmt.Sprintf("the API key %q may not call method %q", name, Clip(method)))
}

func errNotOffered(method string) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeMethodNotOffered, fmt.Sprintf("method %q is not offered on this endpoint", Clip(method)))
}

// errRateLimited is the refusal of a call over a limit.
func errRateLimited(who string, retry time.Duration) *jsonrpc.Error {
	e := jsonrpc.NewError(jsonrpc.CodeRateLimited,
		"rate limit of "+who+" exceeded: retry in "+retry.Round(time.Millisecond).String())
	e.Data = retryData(retry)
	return e
}

func errQuota(name string, retry time.Duration) *jsonrpc.Error {
	e := jsonrpc.NewError(jsonrpc.CodeQuotaExceeded,
		fmt.Sprintf("the daily quota of API key %q is used up: it resets at 00:00 UTC", name))
	e.Data = retryData(retry)
	return e
}

func errTooCostly(who string, cost, burst int) *jsonrpc.Error {
	return jsonrpc.NewError(jsonrpc.CodeRateLimited, fmt.Sprintf(
		"the call costs %d units, more than the burst %d of %s's limit: split it or ask for a larger burst", cost, burst, who))
}

// RetryAfterSeconds is the Retry-After value for a wait: whole seconds,
// at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// retryData is an error's data member: when to retry.
func retryData(d time.Duration) json.RawMessage {
	b := strconv.AppendInt([]byte(`{"retry_after_seconds":`), int64(RetryAfterSeconds(d)), 10)
	return append(b, '}')
}

// RetryAfterHeader formats RetryAfterSeconds for the header.
func RetryAfterHeader(d time.Duration) string { return strconv.Itoa(RetryAfterSeconds(d)) }

// Clip bounds client text (an origin, a key name) echoed in an error.
func Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
