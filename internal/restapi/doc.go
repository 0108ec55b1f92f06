// Package restapi serves, per network that sets rest_api, the REST
// interface of the Infura web server (jelias2/EKS-infura-webserver) beside
// the gateway's JSON-RPC:
//
//	GET  /<network>/health              {"status":202,"message":"Healthcheck response","datetime":"…"}
//	GET  /<network>/blocknumber         eth_blockNumber's answer
//	GET  /<network>/gasprice            eth_gasPrice's answer
//	POST /<network>/blockbynumber       {"block": …, "txdetails": …} → eth_getBlockByNumber's answer
//	POST /<network>/txbyblockandindex   {"block": …, "index": …} → eth_getTransactionByBlockNumberAndIndex's answer
//	     /<network>/ws/…                the same, sent over the chosen node's WebSocket
//	WS   /<network>/socket2socket       JSON-RPC over WebSocket, relayed over the nodes' WebSockets
//
// It sits in front of proxy.Handler on the RPC listener. A route builds
// one JSON-RPC call and hands it to proxy.Handler.Do, so the call takes the
// gateway's normal path: the client's priority headers, the scheduler,
// selection, retries and failover. The /ws/ routes and /socket2socket mark
// the call's context with upstream.ViaWebSocket, so the node chosen for
// each try is reached over its shared WebSocket connection (package ws)
// when it has a ws_endpoint, and over HTTP otherwise. /socket2socket is the
// gateway's own WebSocket endpoint (package ws: subscriptions included)
// under the web server's path.
//
// Answers are the web server's: a node's result is passed through byte for
// byte as {"jsonrpc":"2.0","id":1,"result":…}; every error is
// {"statuscode":N,"message":"…"} with HTTP status N, its message starting
// with the web server's "Malformed Request" for bad input and naming the
// key and what to send. Paths of a network without rest_api, and paths
// that are not routes, go to the JSON-RPC handler unchanged.
package restapi
