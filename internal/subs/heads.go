package subs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// header is a newHeads notification with the fields linking needs.
type header struct {
	num    uint64
	hash   string
	parent string
	raw    []byte
}

func parseHeader(raw []byte) (header, error) {
	var h struct {
		Number     string `json:"number"`
		Hash       string `json:"hash"`
		ParentHash string `json:"parentHash"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return header{}, fmt.Errorf("decoding header: %w", err)
	}
	num, err := parseQuantity(h.Number)
	if err != nil {
		return header{}, fmt.Errorf("decoding header number: %w", err)
	}
	if h.Hash == "" || h.ParentHash == "" {
		return header{}, errors.New("decoding header: no hash or parentHash")
	}
	return header{num: num, hash: strings.ToLower(h.Hash), parent: strings.ToLower(h.ParentHash), raw: raw}, nil
}

// blockOnly are the members of a block (eth_getBlockBy*) that a header
// (a newHeads notification) does not have.
var blockOnly = []string{"transactions", "uncles", "size", "withdrawals"}

// headerOf turns a block into the header a newHeads notification carries.
// keys, when known, is the member order of the node's own notifications, so
// a fetched header reads byte for byte like one the node pushed.
func headerOf(block []byte, keys []string) (header, error) {
	ms, err := members(block)
	if err != nil {
		return header{}, fmt.Errorf("decoding block: %w", err)
	}
	var out []member
	if keys != nil {
		for _, k := range keys {
			if i := slices.IndexFunc(ms, func(m member) bool { return m.key == k }); i >= 0 {
				out = append(out, ms[i])
			}
		}
	} else {
		for _, m := range ms {
			if !slices.Contains(blockOnly, m.key) {
				out = append(out, m)
			}
		}
	}
	return parseHeader(object(out))
}

// keysOf returns the member order of a header.
func keysOf(raw []byte) []string {
	ms, err := members(raw)
	if err != nil {
		return nil
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.key
	}
	return keys
}

// fetchFunc returns the header of the block with this hash.
type fetchFunc func(ctx context.Context, hash string) (header, error)

// headTracker remembers the chain of headers delivered so far (the hash of
// each recent height) and decides what a new header means.
type headTracker struct {
	hashes  map[uint64]string // delivered height → hash, the last window heights
	last    uint64            // the height delivered last
	started bool
	window  uint64 // heights remembered
	maxGap  int    // the most ancestors fetched for one header
}

func newHeadTracker(window uint64, maxGap int) headTracker {
	return headTracker{hashes: make(map[uint64]string), window: window, maxGap: maxGap}
}

// next returns the headers to deliver for h, oldest first:
//   - nothing when h was delivered already;
//   - h alone when its parent is the delivered header below it;
//   - after a gap, the missing ancestors then h;
//   - after a reorg, the new chain's headers from the fork point on.
//
// unlinked reports a chain that could not be linked within maxGap headers
// (what can be delivered still is).
func (t *headTracker) next(ctx context.Context, h header, fetch fetchFunc) (seg []header, unlinked bool, err error) {
	if !t.started {
		t.record(h)
		return []header{h}, false, nil
	}
	if t.hashes[h.num] == h.hash {
		return nil, false, nil
	}
	seg = []header{h}
	for cur := h; cur.num > 0; {
		below := cur.num - 1
		known, ok := t.hashes[below]
		if ok && known == cur.parent {
			break // links to the delivered chain
		}
		if !ok && below <= t.last {
			unlinked = true // older than the remembered window
			break
		}
		if len(seg) > t.maxGap {
			unlinked = true
			break
		}
		p, err := fetch(ctx, cur.parent)
		if err != nil {
			return nil, false, fmt.Errorf("fetching block %d (%s): %w", below, cur.parent, err)
		}
		if p.hash != cur.parent || p.num != below {
			return nil, false, fmt.Errorf("fetching block %s: the node answered block %d %s", cur.parent, p.num, p.hash)
		}
		seg = append(seg, p)
		cur = p
	}
	slices.Reverse(seg)
	for _, x := range seg {
		t.record(x)
	}
	return seg, unlinked, nil
}

// record makes x the delivered header at its height; heights above it, from
// a chain x replaces, are forgotten.
func (t *headTracker) record(x header) {
	if t.started {
		for n := x.num + 1; n <= t.last; n++ {
			delete(t.hashes, n)
		}
	}
	t.hashes[x.num] = x.hash
	t.last, t.started = x.num, true
	if x.num >= t.window {
		delete(t.hashes, x.num-t.window)
	}
	if uint64(len(t.hashes)) > 2*t.window { // after jumps: drop what fell out of the window
		for n := range t.hashes {
			if n+t.window <= x.num {
				delete(t.hashes, n)
			}
		}
	}
}
