package proxy

import (
	"mime"
	"net/http"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// errBrowserContentType refuses a browser's POST sent without a JSON
// content type (HTTP 415).
var errBrowserContentType = jsonrpc.NewError(jsonrpc.CodeInvalidRequest,
	"invalid request: a browser request must be sent with Content-Type: application/json")

// simpleBrowserPost reports a POST that any web page can make its visitor's
// browser send to the gateway without a CORS preflight: it carries an
// Origin (only browsers send one) and a content type other than JSON's
// (text/plain, a form, none). Such a call would run, unread, on behalf of
// whatever page the user has open; as go-ethereum does, it is refused, so a
// browser must ask first with a preflight, which CORS settings answer.
// Clients that send no Origin (curl, scripts) keep any content type.
func simpleBrowserPost(origin, contentType string) bool {
	if origin == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return true
	}
	switch mt {
	case "application/json", "application/json-rpc", "application/jsonrequest":
		return false
	}
	return true
}

// refuseSimpleBrowserPost answers such a POST with 415 and reports whether
// it did.
func refuseSimpleBrowserPost(w http.ResponseWriter, origin, contentType string) bool {
	if !simpleBrowserPost(origin, contentType) {
		return false
	}
	w.Header()["Content-Type"] = jsonHeader
	w.WriteHeader(http.StatusUnsupportedMediaType)
	_, _ = w.Write(errBrowserContentType.AppendResponse(make([]byte, 0, 160), nil))
	return true
}
