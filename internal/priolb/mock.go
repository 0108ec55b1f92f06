package priolb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Mock is the node -mock-node serves: it answers as prio-load-balancer's
// mock does (net_version "1", eth_callBundle "cool", any other method the
// JSON-RPC error -32603), and also the calls of evmgate's health probes
// (eth_chainId 0x1, eth_blockNumber, eth_getBlockByNumber, eth_syncing),
// single or batched, so the gateway keeps it in service.
type Mock struct {
	ln  net.Listener
	srv *http.Server
	url string
}

// StartMock serves a mock node on addr.
func StartMock(addr string) (*Mock, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("starting the mock node (-mock-node-addr, MOCK_NODE_ADDR): %w", err)
	}
	m := &Mock{ln: ln, url: "http://" + ln.Addr().String()}
	m.srv = &http.Server{Handler: http.HandlerFunc(serveMock), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = m.srv.Serve(ln) }()
	return m, nil
}

// URL is the mock node's JSON-RPC URL.
func (m *Mock) URL() string { return m.url }

// Close stops the mock node.
func (m *Mock) Close() error {
	err := m.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

type mockCall struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type mockAnswer struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *mockError      `json:"error,omitempty"`
}

type mockError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func serveMock(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		writeMock(w, mockFailure(json.RawMessage("-1"), "failed to read request body: "+err.Error()))
		return
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '[' {
		var calls []mockCall
		if err := json.Unmarshal(trimmed, &calls); err != nil {
			writeMock(w, mockFailure(json.RawMessage("-1"), "failed to parse JSON RPC request: "+err.Error()))
			return
		}
		answers := make([]mockAnswer, len(calls))
		for i, c := range calls {
			answers[i] = mockAnswerTo(c)
		}
		writeMock(w, answers)
		return
	}
	var c mockCall
	if err := json.Unmarshal(body, &c); err != nil {
		writeMock(w, mockFailure(json.RawMessage("-1"), "failed to parse JSON RPC request: "+err.Error()))
		return
	}
	writeMock(w, mockAnswerTo(c))
}

func mockAnswerTo(c mockCall) mockAnswer {
	id := c.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	ok := func(result any) mockAnswer { return mockAnswer{JSONRPC: "2.0", ID: id, Result: result} }
	switch c.Method {
	case "net_version":
		return ok("1")
	case "eth_callBundle":
		return ok("cool")
	case "eth_chainId":
		return ok("0x1")
	case "eth_blockNumber":
		return ok("0x1")
	case "eth_syncing":
		return ok(false)
	case "eth_getBlockByNumber":
		return ok(map[string]string{"number": "0x1", "timestamp": "0x" + strconv.FormatInt(time.Now().Unix(), 16)})
	}
	return mockFailure(id, "no RPC method handler implemented for "+c.Method)
}

func mockFailure(id json.RawMessage, msg string) mockAnswer {
	return mockAnswer{JSONRPC: "2.0", ID: id, Error: &mockError{Code: -32603, Message: msg}}
}

func writeMock(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}
