package restapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/proxy"
)

// apiError is the web server's error body, {"statuscode":N,"message":"…"},
// answered with HTTP status N.
type apiError struct {
	StatusCode int    `json:"statuscode"`
	Message    string `json:"message"`
}

// malformed is the web server's message for bad input, followed by what is
// wrong and what to send.
const malformed = "Malformed Request"

func badRequest(detail string) *apiError {
	return &apiError{StatusCode: http.StatusBadRequest, Message: malformed + ": " + detail}
}

var (
	errTooLarge = &apiError{StatusCode: http.StatusRequestEntityTooLarge,
		Message: malformed + ": the body is over 65536 bytes; send a small JSON object such as {\"block\": \"latest\", \"txdetails\": false}"}
	errNotWebSocket = &apiError{StatusCode: http.StatusUpgradeRequired,
		Message: "Error Upgrading to WebSocket connection: connect a WebSocket client to ws://host:port/<network>/socket2socket"}
)

func methodNotAllowed(r *http.Request, rt *route) *apiError {
	return &apiError{StatusCode: http.StatusMethodNotAllowed,
		Message: r.Method + " is not served at " + r.URL.Path + ": use " + rt.method}
}

// writeError writes e and returns its status.
func writeError(w http.ResponseWriter, e *apiError) int {
	b, _ := json.Marshal(e)
	return write(w, e.StatusCode, append(b, '\n'))
}

// health is the web server's health answer. It never reaches a node.
type health struct {
	Status   int    `json:"status"`
	Message  string `json:"message"`
	Datetime string `json:"datetime"`
}

func writeHealth(w http.ResponseWriter, now time.Time) int {
	b, _ := json.Marshal(health{Status: http.StatusAccepted, Message: "Healthcheck response", Datetime: now.String()})
	return write(w, http.StatusOK, append(b, '\n'))
}

// relay writes the answer of a call: a result as the node sent it, an error
// (the node's own, or the gateway's when no node could answer) in the web
// server's error shape.
func relay(w http.ResponseWriter, out []byte) int {
	switch jsonrpc.ScanResponse(out) {
	case jsonrpc.Result:
		return write(w, http.StatusOK, out)
	case jsonrpc.Failure:
		if e := jsonrpc.ErrorOf(out); e != nil {
			if e.Code == jsonrpc.CodeShuttingDown {
				w.Header().Set("Retry-After", "1") // another replica takes it at once
			}
			return writeError(w, &apiError{StatusCode: statusOf(e.Code), Message: e.Message})
		}
	}
	return writeError(w, &apiError{StatusCode: http.StatusBadGateway, Message: "the node's answer is not a JSON-RPC response"})
}

// statusOf maps a JSON-RPC error code to the HTTP status of its answer: the
// gateway's own codes as the JSON-RPC handler answers them, a rejected
// request as 400, any other node error as 502.
func statusOf(code int) int {
	if code == jsonrpc.CodeInvalidParams {
		return http.StatusBadRequest
	}
	if status, ok := proxy.HTTPStatus(code); ok {
		return status
	}
	return http.StatusBadGateway
}

var jsonHeader = []string{"application/json"}

func write(w http.ResponseWriter, status int, body []byte) int {
	w.Header()["Content-Type"] = jsonHeader
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}
