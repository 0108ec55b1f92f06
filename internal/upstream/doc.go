// Package upstream models one execution node: its fixed identity (URL,
// tier, headers, limits) and its live state (head, latency, load, health,
// calls in flight) held in atomics so the selector reads it without locks.
// It also owns the node's HTTP client, which sends raw JSON-RPC bytes,
// streams the answer back as a Response and classifies failures into typed
// errors. Plain http:// nodes use a pooled HTTP/1.1 client built on
// fasthttp's request writer and response parser (no goroutine per call or
// connection, the try's deadline as the socket deadline); https://, gzip
// and proxied nodes use net/http. An attested node (Spec.Attest) is dialled
// by AttestedTransport, whose TLS handshake checks the node's attestation
// (package attest) before any request is written. Do times every call and
// probe to the answer's head and feeds the node's answer-time estimate
// (PeakEWMA), so the one place every request to a node passes through is
// where its speed is measured, whether the request came from a client over
// HTTP or WebSocket or from a probe, and whether it went over HTTP or the
// node's WebSocket. A call whose context is marked ViaWebSocket goes over
// the node's WebSocket transport when it has one. Health probes (package health) and request outcomes
// (package proxy) write the rest of the live state; package balancer reads
// it.
//
// A node's history (StateMode) says how much old state it keeps: archive
// (all), full (StateWindow blocks below its head) or unknown. It is
// configured, or learnt by the health probe and by missing-state errors
// (StateMissing, the table of the messages clients send for it); HasState
// answers for one block.
package upstream
