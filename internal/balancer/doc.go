// Package balancer places each call on a node. A Pool holds one network's
// nodes; whenever their health changes it rebuilds an immutable View (the
// robust network head, the eligible nodes of the serving tier in
// load_balance_priority order, and the ordered backups), so picking a node
// per call reads one atomic pointer, takes no lock and does no I/O.
//
// Eligibility and tiers follow StakeSquid's evm-loadbalancer as its README
// defines them:
//   - a local or monitoring node serves while it is at most
//     network_block_diff blocks behind the network head; a fallback node
//     while it is at most fallback_block_diff behind;
//   - tiers are tried in order local, monitoring, fallback: the first tier
//     with an eligible node serves, the later ones are backups for retries;
//   - with switch_to_fallback_enabled, when every local node is more than
//     switch_to_fallback_block_threshold blocks behind, the fallback tier
//     serves first;
//   - load_balance_priority orders candidates, first criterion first.
//
// The network head is robust to one lying node: it is the highest head
// that another node confirms within the outlier window (with a single node,
// its own head; with no confirmation at all, the lower median). The window
// (Rules.OutlierBlockDiff) defaults to twice the largest of
// network_block_diff, fallback_block_diff and
// switch_to_fallback_block_threshold, and at least 64 blocks: wider than
// any lag the rules call normal, so a node at the tip ahead of lagging ones
// sets the head (StakeSquid's "every local node 11 blocks behind" case),
// while a height far beyond every other node's does not. A node ahead of
// the head by more than network_block_diff is an outlier and not served.
//
// Within the serving tier a Strategy spreads calls: "p2c" (power of two
// choices on in-flight × answer time ÷ weight, the default; the answer time
// is the node's peak-EWMA of time to first byte, see upstream.PeakEWMA;
// costs within TieBand or TieFloor of each other are ties taken at random,
// and an idle node passed over has its estimate aged by PassOverFade),
// "least_conn",
// "round_robin" (weighted) or "best" (always the first by priority, which
// is StakeSquid's single-endpoint behaviour). When no node is eligible the
// pool fails open: it tries the nodes it has anyway, answering nodes best
// head first (outliers after them), then unknown, then down ones, skipping
// only nodes on the wrong chain.
//
// A call's constraints come to Pick as a Need, passed by value: the block
// it names (MinHead: only nodes that have it), the state it reads at an
// old block (State: only nodes holding that state, an archive node or a
// full node whose window below its head covers it), the highest head its
// client has been served (Seen: consistent reads) and the node it is
// pinned to (Node: read-your-writes). MinHead and Seen are hard (beyond
// the network head they are dropped and capped); State and Node are
// relaxed when no eligible node not yet tried could ever meet them, so the
// call goes where it would without them — and kept, making the call wait,
// when such a node is only busy.
//
// Pick allocates nothing with the built-in strategies: the per-call
// predicate stays on the stack because they are called on their concrete
// types. It reads the clock once and counts the call in the chosen node's
// recent calls (the share the status report shows).
package balancer
