// Package access decides who is calling and what they may do, before a call
// is queued: API keys (in the URL path, X-API-Key or Authorization: Bearer),
// JWTs, per-network and per-key method policy, token-bucket rate limits per
// key and per client IP (local, or shared by every replica through Redis),
// a per-key daily quota and CORS for browsers. A refused call costs no node
// anything.
//
// Keys are held only as SHA-256 hashes and compared in constant time; a key
// or token never appears in a log line, a metric or an error message, only
// the key's name does.
package access
