// Package rpcserver serves the JSON-RPC listener: one port, two HTTP/1.1
// servers. JSON-RPC calls are served by fasthttp's server, which reads and
// writes a request with a handful of allocations; every other request
// (WebSocket upgrades, pages, REST routes, the admin API when it shares
// the port) and every request the fast path declines is handed, with its
// connection, to a net/http server, which serves that connection from
// then on. On a TLS port, a connection that chooses HTTP/2 goes to the
// net/http server after its handshake. Both servers apply the same limits:
// header bytes, read-header, read, write and idle timeouts.
package rpcserver
