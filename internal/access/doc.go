// Package access decides who is calling and what they may do, before a call
// is queued: API keys (in the URL path, X-API-Key or Authorization: Bearer),
// JWTs (HS256, RS256, ES256), per-network and per-key method policy,
// token-bucket rate limits per key and per client IP (local, or shared by
// every replica through one atomic Redis script), a per-key daily quota and
// CORS for browsers. A refused call costs no node anything.
//
// Keys are held only as SHA-256 hashes and compared in constant time; a key
// or a token never appears in a log line, a metric or an error message, only
// the key's name does (Caller.Name, the client identity).
//
// Decisions the callers rely on:
//   - a batch is refused call by call by the method policy, and charged once
//     for the calls left; over a limit, the whole batch is refused;
//   - a key's class caps the priority class: no class header gets the key's
//     class, a header asking for more is lowered to it;
//   - while Redis is unreachable, shared limits fail open (each replica counts
//     alone) or closed (503), as configured.
//
// The request path reads one immutable snapshot behind an atomic pointer;
// configuration reloads and runtime key changes swap it.
package access
