package proxy

import (
	"bytes"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// ClientHeader names the client for consistent reads. An API key, when
// the request carries one, names the client instead (see exchange.client).
const ClientHeader = "X-Client-ID"

// clientKey is ClientHeader in net/http's canonical form: reading the
// header map with it directly allocates nothing.
const clientKey = "X-Client-Id"

// ClientOf returns the client a request names ("" for none).
func ClientOf(h access.Header, key string) string {
	id := h.Get(clientKey)
	if key == "" {
		return strings.Clone(id) // it may be a fast request's bytes
	}
	// A key is a client of its own; X-Client-ID names one of its clients.
	// A header value cannot hold a NUL, so no header alone names these.
	return key + "\x00" + id
}

// need returns need with the constraints of call c added: the block it
// names, the state it reads, the client's consistency, and the node its
// filter lives on.
func (ex *exchange) need(c *jsonrpc.Call, need balancer.Need) balancer.Need {
	if h, ok := c.BlockNumber(); ok && h > need.MinHead {
		need.MinHead = h
	}
	if b, ok := c.StateBlock(); ok {
		need = need.NeedState(b)
	}
	if ex.session != nil {
		need = ex.consistentNeed(c, need)
	}
	ex.filterNeed(c, &need)
	return need
}

// openSession finds the state of the exchange's client when the network
// keeps consistent reads and the request names a client. A client id the
// tracker refuses is answered with that error (false).
func (ex *exchange) openSession() bool {
	t := ex.net.Consistent
	if t == nil || ex.client == "" {
		return true
	}
	s, err := t.Client(ex.client)
	if err != nil {
		ex.fail(jsonrpc.NewError(jsonrpc.CodeInvalidRequest, err.Error()))
		return false
	}
	ex.session = s
	return true
}

// consistentNeed adds the client's constraints: a call at the head goes
// to a node at or above the highest head the client was served, and a
// lookup of the client's own transaction to the node that accepted it.
func (ex *exchange) consistentNeed(c *jsonrpc.Call, need balancer.Need) balancer.Need {
	s := ex.session
	if c.ReadsHead() {
		ex.readsHead = true
		need.Seen = max(need.Seen, s.Head())
	}
	switch c.Method {
	case "eth_getTransactionReceipt", "eth_getTransactionByHash":
		// The node that took the transaction, until the network head has
		// reached the block its receipt named: then every node at that
		// height has it.
		switch n, block, mined := s.PinnedTx(hashParam(c), time.Now()); {
		case mined && block <= ex.net.Pool.View().Head:
			need.MinHead = max(need.MinHead, block)
		case n != nil:
			need.Node = n
		}
	case "eth_getTransactionCount":
		if c.IsPending() {
			if n := s.PinnedLast(time.Now()); n != nil {
				need.Node = n
			}
		}
	}
	return need
}

// pinned reports whether a call must not share a node answer with other
// clients' identical calls (in-flight dedup): its node is chosen for its
// client.
func (ex *exchange) pinned(c *jsonrpc.Call) bool {
	if ex.session == nil {
		return false
	}
	switch c.Method {
	case "eth_getTransactionReceipt", "eth_getTransactionByHash", "eth_getTransactionCount":
		return true
	}
	return c.ReadsHead()
}

// answered records, after node n answered the request, the head the client
// was served.
func (ex *exchange) answered(n *upstream.Node) {
	if ex.session != nil && ex.readsHead {
		ex.session.Served(n.Head())
	}
}

// observe reads what the client learns from a node's result to call c:
// the head in an eth_blockNumber answer (which may be newer than the
// node's last probe) and the transaction a node accepted.
func (ex *exchange) observe(n *upstream.Node, c *jsonrpc.Call, result []byte) {
	if ex.session == nil || result == nil {
		return
	}
	switch {
	case c.Method == "eth_blockNumber":
		if h, ok := jsonrpc.ParseQuantity(result); ok {
			n.SawHead(h)
			ex.session.Served(h)
		}
	case jsonrpc.Info(c.Method).SendTx:
		if len(result) > 2 && result[0] == '"' {
			ex.session.Wrote(string(result[1:len(result)-1]), n, time.Now())
		}
	case c.Method == "eth_getTransactionReceipt" && len(result) > 0 && result[0] == '{':
		// Mined: any node at the receipt's block has it now.
		if b, ok := jsonrpc.ParseQuantity(jsonrpc.Member(result, "blockNumber")); ok {
			ex.session.Mined(hashParam(c), b)
		}
	}
}

// observes reports that observe reads the result of call c.
func (ex *exchange) observes(c *jsonrpc.Call) bool {
	return ex.session != nil && (c.Method == "eth_blockNumber" || c.Method == "eth_getTransactionReceipt" || jsonrpc.Info(c.Method).SendTx)
}

// observeElement is observe for one answer of a batch.
func (ex *exchange) observeElement(n *upstream.Node, c *jsonrpc.Call, el []byte) {
	if !ex.observes(c) {
		return
	}
	var scan jsonrpc.ResponseScan
	if scan.Scan(el, true) == jsonrpc.Result {
		ex.observe(n, c, scan.ResultValue(el))
	}
}

// hashParam returns the call's first parameter without its quotes.
func hashParam(c *jsonrpc.Call) string {
	p := bytes.Trim(c.FirstParam(), `"`)
	return string(p)
}
