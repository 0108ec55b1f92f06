// Package sched is the priority scheduler of one network: calls wait in it
// until a worker slot on a node is free, and are granted slots in priority
// order.
//
// # Place in the request path
//
// The proxy classifies a call (ClassFrom), then calls Wait with a try
// function. try asks the network's balancer for the best eligible node
// that has a free worker and reserves that worker with atomics; it returns
// false when none is free. When Wait returns nil the call owns the
// reserved worker; when the call ends the proxy frees the worker and calls
// Kick, which hands the freed capacity to the next waiting calls. What try
// writes (the chosen node) is visible to the caller once Wait returns nil. Node
// changes (added, healthy again) also call Kick. There is no dispatcher
// goroutine and no goroutine per call: granting happens in Wait and Kick,
// under the scheduler's mutex.
//
// Per-node worker counts come from configuration or from the node URL's
// _workers=N argument (ParseWorkers), as in flashbots' prio-load-balancer.
//
// # Classes
//
// A request with "X-Fast-Track: true" is fast-track; otherwise one with
// "X-High-Priority: true" (or the older "high_prio: true") is high; every
// other request is low. "1" counts as true, case does not matter.
//
// # Grant order
//
// When nothing waits and a worker is free, a call is granted at once. When
// calls wait, each grant (on Kick, or when a call arrives) goes to the
// first of these rules that applies:
//
//  1. Low share: if a low call waits, and the last LowShare-1 grants made
//     while low calls waited all went to other classes, the oldest low call
//     is next (default LowShare 20: at least 1 grant in 20 goes to low).
//  2. Promotion: a low call that has waited LowMaxWait or longer (default
//     2s) competes as a high call. The "high candidate" is the high call at
//     the head of the high queue, or the oldest low call when it is
//     promoted and arrived before that high call.
//  3. Fast-track versus high: when a fast-track call and a high candidate
//     both wait, FastTrackPerHigh (N, default 2) fast-track calls are
//     granted, then one high candidate, and again: FT, FT, HP, FT, FT, HP
//     with N=2; FT, HP, FT, HP with N=1. With DrainFastTrackFirst every
//     fast-track call goes before any high candidate. The count of
//     fast-track grants restarts when a high candidate is granted and when
//     the fast-track queue becomes empty, so every busy period starts with
//     fast-track.
//  4. Otherwise the waiting fast-track call, else the high candidate, else
//     the oldest low call.
//
// Within a class calls are served first come, first served, except that a
// retried call (Wait with retry=true, after a node failed it) goes to the
// front of its class and takes the age of the call it overtakes.
//
// Granting stops at the first call whose try fails (head-of-line). When
// every call can use every node, a failed try means no worker is free, so
// offering the slot to the calls behind it would only cost time, and the
// order above stays exact. Config.Lookahead lets up to that many further
// calls, in the same order, try in the same round; use it when calls need
// different nodes, so that an archive-only call waiting for a busy archive
// node does not hold back calls any node can serve. A Trier that is also
// Particular says so itself after a failed try: a call that waits for a
// node of its own while a slot is free elsewhere is passed over (up to
// MaxPassed a round) and the slot goes to the calls behind it. A call that
// leaves the queue (its deadline, its client gone) lets the calls behind
// it go at once.
//
// # Bounds and deadlines
//
// Each class holds at most MaxQueued calls (default 10000 each); a new call
// of a full class gets ErrQueueFull at once, and the other classes are not
// affected. A retried call is admitted over the bound: it was accepted
// before, and there are never more of them than calls in flight. A call's
// context deadline runs while it waits: when it passes, Wait returns an
// error wrapping ErrExpired, the call leaves the queue, and it is never
// granted afterwards (a call whose context is done when its turn comes is
// skipped). Close answers every waiting call with ErrClosed.
//
// # Observability
//
// Len gives the queue depth per class, Stats the granted, rejected,
// expired and canceled counts per class, and Config.OnGrant receives the
// time each granted call spent queued. The package has no Prometheus
// dependency; the gateway exports these.
package sched
