// Package engine is evmgate's Engine API multiplexer: one consensus client (CL)
// drives several execution clients (ELs) through a single authenticated
// endpoint, so a validator keeps its duties when one EL crashes, stalls or
// disagrees.
//
// It sits beside the JSON-RPC gateway, on its own listener (loopback by
// default), and speaks to the CL exactly as an EL would:
//
//   - Inbound requests carry an HS256 JWT that is checked as an EL checks it
//     (execution-apis authentication.md: 32-byte hex secret, iat within ±60 s).
//     Outbound, every node gets a fresh token signed with its own secret.
//   - engine_newPayloadV* and engine_forkchoiceUpdatedV* go to every usable node,
//     through a per-node ordered queue (the spec requires fcU order to be kept),
//     and the answers are combined by the quorum rule in quorum.go. The answer
//     goes back as soon as no later answer could change it; slower nodes still
//     get the call.
//   - Payload building: the gateway hands the CL its own payloadId and remembers
//     each node's id (payloadid.go); engine_getPayloadV* asks every building node
//     and returns the envelope with the highest blockValue.
//   - exchangeCapabilities is the intersection over voting nodes,
//     getClientVersionV1 the flat concatenation (identification.md), and every
//     other method goes to the primary node with failover.
//   - Node states (alive, syncing, dead) come from eth_syncing probes and call
//     outcomes (nodes.go); the primary is the fastest synced voting node. A
//     node that left a newPayload/forkchoiceUpdated unanswered for its whole
//     timeout is stalled: not waited for until it answers one in time (a
//     probe cannot restore it), then waited a quarter of its timeout for a
//     while.
//
// The package keeps the command-line interface of executionbackup (flags.go)
// and its JSON status API (GET /metrics, GET /recheck, POST /add_nodes), and
// exports Prometheus metrics prefixed evmgate_engine_.
package engine
