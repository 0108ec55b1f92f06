package subs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/evmgate/evmgate/internal/upstream"
	"github.com/prometheus/client_golang/prometheus"
)

// handle delivers what one event from node n means to the subscribers.
func (f *feed) handle(n *upstream.Node, ev Event) error {
	if ev.Result != nil {
		f.count(func(m *Metrics) *prometheus.CounterVec { return m.Upstream }, 1)
	}
	switch f.req.kind {
	case NewHeads:
		h, err := parseHeader(ev.Result)
		if err != nil {
			f.hub.log.Warn("dropping malformed header", "node", n.Name, "err", err)
			return nil
		}
		if f.keys == nil && n.WSURL != "" {
			f.keys = keysOf(ev.Result)
		}
		return f.deliverHeads(n, h)
	case Logs:
		if ev.Result == nil {
			f.deliverAll(f.logs.canonical(ev.Block, ev.Hash), true)
			return nil
		}
		l, err := parseLog(ev.Result)
		if err != nil {
			f.hub.log.Warn("dropping malformed log", "node", n.Name, "err", err)
			return nil
		}
		f.deliverAll(f.logs.next(l), false)
	case PendingTransactions:
		if f.seen.add(string(ev.Result)) {
			f.deliver(ev.Result)
		}
	default:
		f.deliver(ev.Result)
	}
	return nil
}

// deliverHeads delivers h and whatever must come before it.
func (f *feed) deliverHeads(n *upstream.Node, h header) error {
	ctx, cancel := context.WithTimeout(f.ctx, f.hub.cfg.CallTimeout*2)
	defer cancel()
	seg, unlinked, err := f.heads.next(ctx, h, f.fetcher(n))
	if err != nil {
		return err
	}
	if unlinked {
		f.hub.log.Warn("header gap longer than max_gap_blocks: oldest headers not delivered", "node", n.Name, "number", h.num)
		f.count(func(m *Metrics) *prometheus.CounterVec { return m.Unlinked }, 1)
	}
	if len(seg) > 1 {
		f.count(func(m *Metrics) *prometheus.CounterVec { return m.Backfilled }, len(seg)-1)
	}
	for _, x := range seg {
		f.deliver(x.raw)
	}
	return nil
}

func (f *feed) fetcher(n *upstream.Node) fetchFunc {
	return func(ctx context.Context, hash string) (header, error) {
		b, err := blockByHash(ctx, n, hash)
		if err != nil {
			return header{}, err
		}
		return headerOf(b, f.keys)
	}
}

func (f *feed) deliverAll(results [][]byte, removals bool) {
	for _, r := range results {
		f.deliver(r)
	}
	if removals {
		f.count(func(m *Metrics) *prometheus.CounterVec { return m.Removed }, len(results))
	}
}

// resync runs after a stream opens on n: after a move, it delivers what was
// missed while no node served the feed.
func (f *feed) resync(n *upstream.Node) error {
	ctx, cancel := context.WithTimeout(f.ctx, f.hub.cfg.CallTimeout*2)
	defer cancel()
	switch f.req.kind {
	case NewHeads:
		if !f.heads.started {
			return nil // a subscription starts with the next block
		}
		b, err := blockByNumber(ctx, n, "latest")
		if err != nil {
			return err
		}
		h, err := headerOf(b, f.keys)
		if err != nil {
			return err
		}
		return f.deliverHeads(n, h)
	case Logs:
		return f.resyncLogs(ctx, n)
	}
	return nil
}

// resyncLogs re-checks the recent blocks with delivered logs against n's
// chain, then fetches the logs of the blocks that may have been missed.
func (f *feed) resyncLogs(ctx context.Context, n *upstream.Node) error {
	head, err := blockNumber(ctx, n)
	if err != nil {
		return err
	}
	t := &f.logs
	if !t.started {
		t.started, t.floor = true, head
		return nil
	}
	if err := f.recheckLogs(ctx, n, head); err != nil {
		return err
	}
	if head <= t.floor {
		return nil
	}
	from := t.floor + 1
	if span := uint64(f.hub.cfg.MaxGap); head-from+1 > span {
		from = head - span + 1
	}
	logs, err := getLogs(ctx, n, &f.req, from, head, "")
	if err != nil {
		return err
	}
	filled := 0
	for _, raw := range logs {
		l, err := parseLog(raw)
		if err != nil {
			return fmt.Errorf("decoding eth_getLogs answer of %s: %w", n.Name, err)
		}
		out := t.next(l)
		filled += len(out)
		f.deliverAll(out, false)
	}
	f.count(func(m *Metrics) *prometheus.CounterVec { return m.Backfilled }, filled)
	t.floor = max(t.floor, head)
	return nil
}

// reorgDepth is how far below a node's head delivered logs are re-checked
// after a move.
const reorgDepth = 64

// recheckLogs removes the logs of delivered blocks that n does not have on
// its chain.
func (f *feed) recheckLogs(ctx context.Context, n *upstream.Node, head uint64) error {
	for _, num := range f.logs.heights() {
		if num+reorgDepth < head {
			continue // final for any practical purpose
		}
		if num > head {
			break
		}
		b, err := blockByNumber(ctx, n, quantity(num))
		if err != nil {
			return err
		}
		var h struct {
			Hash string `json:"hash"`
		}
		if err := json.Unmarshal(b, &h); err != nil {
			return fmt.Errorf("decoding block %d of %s: %w", num, n.Name, err)
		}
		if out := f.logs.canonical(num, h.Hash); len(out) > 0 {
			f.deliverAll(out, true)
			break // every block above was removed too
		}
	}
	return nil
}

// recent is a bounded set of recently seen keys.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecent(size int) recent {
	return recent{set: make(map[string]struct{}, size), ring: make([]string, size)}
}

// add records k and reports whether it was new.
func (r *recent) add(k string) bool {
	if _, ok := r.set[k]; ok {
		return false
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = k
	r.next = (r.next + 1) % len(r.ring)
	r.set[k] = struct{}{}
	return true
}
