// Package ws serves JSON-RPC over WebSocket and talks WebSocket to nodes.
//
// Client side: a GET with "Upgrade: websocket" on a network's RPC path
// (ws://host:port/<network>) is handed by proxy.Handler to Server.Upgrade.
// Every message is a JSON-RPC call or batch answered through
// proxy.Handler.Do, so it takes the same path as HTTP: priority class (from
// the upgrade request's headers), selection, retries and failover.
// eth_subscribe and eth_unsubscribe are served by the network's
// subscription hub (package subs); a client gets its own subscription ids
// while the upstream subscription is shared. Each connection has one writer
// goroutine and a queue bounded in messages and in bytes: answers wait for
// room, and while the bytes waiting are over the bound the connection's next
// message is not read; notifications never wait — a client whose queue
// overflows is too slow and is disconnected (close 1008) without anyone
// else waiting. Limits on connections,
// subscriptions per connection and message size each answer with a precise
// error; pings detect dead connections.
//
// Node side: each node with a ws_endpoint gets one WebSocket connection,
// opened on first use and shared by every subscription and call to it.
// Requests get the gateway's own ids (answers are matched by id, the
// client's id is put back), writes are serialised, a lost connection fails
// its calls in flight so their callers retry on another node, and dials back
// off after a failure. A message over upstream.MaxAnswer is read past, not
// held: it fails only the call it answers or ends only the subscription it
// notifies. Server.Transport exposes the connection as an
// http.RoundTripper so a node's HTTP client can send plain calls over it.
package ws
