// Package registry owns the runtime node set of every network: the nodes
// of the configuration file plus the changes made at run time through the
// admin API, kept in memory, in a local state file, or in Redis shared by
// every replica.
//
// # Place in the gateway
//
// The gateway builds a Registry with the configured nodes (the seed) and
// an Applier, its own side: Apply installs a network's node set (the
// gateway keeps each node's live state by URI across calls), Admit checks a
// candidate node before it is added. Start reads the stored changes and
// calls Apply once for every network; from then on Apply is called only
// when a network's set changes, whoever changed it. The registry never
// contacts nodes itself, so a stored node that is down cannot stop a
// replica from starting (prio-load-balancer panicked on one).
//
// A configuration reload (Prepare, then Reload) replaces the networks and
// their configured nodes and applies every network again; the runtime
// changes are kept as they are: nodes added at run time stay, configured
// nodes removed at run time stay removed, and the changes of a network
// the reload removed stay in the store until the network comes back.
//
// A network's set is its configured nodes not removed, in configuration
// order, then the added nodes not removed, in the order they were added.
// A node is identified within its network by its URI, byte for byte. When
// Apply returns an error the registry logs and counts it and does not call
// Apply again until that network's set changes.
//
// # Admin API
//
// Off unless admin.listen is set. Every route requires
// "Authorization: Bearer <admin.token>" when a token is configured; a
// token is mandatory when the listener is not a loopback address.
// Bodies are JSON; errors are {"error": "..."} with the reason.
//
//	GET    /nodes                          default network's URIs: ["http://..."]
//	POST   /nodes            {"uri": "..."}  add to the default network (200, the node, also when present)
//	DELETE /nodes            {"uri": "..."}  remove from the default network (200, the node)
//	GET    /admin/networks                   every network's nodes, the store and its state
//	GET    /admin/networks/<name>/nodes      [{"network","uri","tier","name","source"}]
//	POST   /admin/networks/<name>/nodes   {"uri", "tier", "name"}  (201, the node)
//	DELETE /admin/networks/<name>/nodes   {"uri"}  (200, the node)
//
// The first three are prio-load-balancer's API. tier is local (default),
// monitoring or fallback. Status codes: 400 invalid body, URL or tier; 401
// no or wrong token; 404 unknown network or node not found; 409 node
// already present; 422 the node failed admission (Admit: unreachable,
// wrong chain id, ...); 503 the store (Redis) cannot be reached, nothing
// was changed; 500 the change was stored but this replica could not apply
// it. Removing a configured node removes it until it is added again.
//
// # Where changes are kept
//
// Without redis_url, changes live in memory and, with admin.state_file,
// in that file: JSON, rewritten atomically (temporary file, fsync, rename,
// mode 0600 since node URLs may hold API keys) after every change:
//
//	{"format": 1, "epoch": "",
//	 "networks": {"mainnet": {
//	   "added":   [{"uri": "http://10.0.0.5:8545", "tier": "local", "name": "", "seq": 3}],
//	   "removed": [{"uri": "http://10.0.0.1:8545", "seq": 4}]}}}
//
// seq orders changes (added nodes are served in seq order; when a URI is
// both added and removed, the higher seq wins).
//
// With redis_url, Redis is the source of truth for the changes of every
// network, and every replica follows it. Keys, under redis_prefix
// (default "evmgate:"):
//
//	<prefix>registry:epoch                   string: names the current data set
//	<prefix>registry:seq                     counter: INCR gives each change its seq
//	<prefix>registry:net:<network>:added     hash: URI → {"tier","name","seq"}
//	<prefix>registry:net:<network>:removed   hash: URI → seq
//	<prefix>registry:changes                 pub/sub channel: a network name per change
//
// An add is HDEL removed + HSETNX added (so two replicas adding the same
// node at once give one success and one 409) and a remove is HDEL added +
// HSET removed, each in one MULTI with the PUBLISH. A replica re-reads
// every network in one MULTI when notified, when its subscription is
// (re)established, and every resync_interval (default 5 s); it calls Apply
// only for networks whose set changed. Replicas see a change within
// milliseconds while Redis is up.
//
// When Redis cannot be reached, replicas keep serving their last known
// sets; admin changes fail with 503 and are not queued (an operator sees
// at once that nothing changed, and no stale change lands later). When
// Redis returns, every replica re-reads within about a second (the
// subscription retries at most 1 s apart; go-redis probes a lost server
// once a second, and until its probe succeeds a change may still get 503). If Redis came back empty (restarted without
// persistence), the epoch key is missing: the first replica to notice sets
// a new epoch and writes back the changes it knew, in a WATCH/MULTI
// transaction, so that runtime nodes are not dropped everywhere. To undo
// runtime changes, remove or add nodes through the API. With both
// redis_url and admin.state_file, the file is a copy of the last state
// read from Redis, used only when Redis cannot be reached at start.
package registry
