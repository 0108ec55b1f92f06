package subs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// chain is a scripted set of blocks by hash.
type chain map[string]header

func hdr(num uint64, hash, parent string) header {
	raw := fmt.Sprintf(`{"parentHash":"%s","number":"0x%x","hash":"%s"}`, parent, num, hash)
	h, err := parseHeader([]byte(raw))
	if err != nil {
		panic(err)
	}
	return h
}

// build adds blocks from..to on a branch named b whose first block's parent is parent.
func (c chain) build(b string, from, to uint64, parent string) string {
	for n := from; n <= to; n++ {
		hash := fmt.Sprintf("0x%s%d", b, n)
		c[hash] = hdr(n, hash, parent)
		parent = hash
	}
	return parent
}

func (c chain) fetch(calls *int) fetchFunc {
	return func(_ context.Context, hash string) (header, error) {
		*calls++
		h, ok := c[hash]
		if !ok {
			return header{}, errNotFound
		}
		return h, nil
	}
}

func nums(seg []header) []string {
	out := make([]string, len(seg))
	for i, h := range seg {
		out[i] = h.hash
	}
	return out
}

func TestHeadTracker(t *testing.T) {
	c := chain{}
	c.build("a", 1, 10, "0xg")
	c.build("b", 4, 7, "0xa3") // a fork from a3
	c.build("c", 9, 9, "0xa8")
	steps := []struct {
		name     string
		in       string
		want     []string
		fetched  int
		unlinked bool
	}{
		{"first header is delivered", "0xa1", []string{"0xa1"}, 0, false},
		{"child links", "0xa2", []string{"0xa2"}, 0, false},
		{"repeat is dropped", "0xa2", nil, 0, false},
		{"gap is filled in order", "0xa5", []string{"0xa3", "0xa4", "0xa5"}, 2, false},
		{"older delivered header is dropped", "0xa4", nil, 0, false},
		{"reorg delivers the new chain from the fork point", "0xb6", []string{"0xb4", "0xb5", "0xb6"}, 2, false},
		{"new chain continues", "0xb7", []string{"0xb7"}, 0, false},
		{"back to the first chain after a gap", "0xa9", []string{"0xa4", "0xa5", "0xa6", "0xa7", "0xa8", "0xa9"}, 5, false},
		{"reorg to a sibling at the same height", "0xc9", []string{"0xc9"}, 0, false},
		{"then the old sibling's child", "0xa10", []string{"0xa9", "0xa10"}, 1, false},
	}
	tr := newHeadTracker(256, 128)
	for _, s := range steps {
		calls := 0
		seg, unlinked, err := tr.next(context.Background(), c[s.in], c.fetch(&calls))
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := nums(seg); !slices.Equal(got, s.want) || calls != s.fetched || unlinked != s.unlinked {
			t.Fatalf("%s: got %v (fetched %d, unlinked %v), want %v (fetched %d, unlinked %v)",
				s.name, got, calls, unlinked, s.want, s.fetched, s.unlinked)
		}
	}
}

func TestHeadTrackerLongGapIsBounded(t *testing.T) {
	c := chain{}
	c.build("a", 1, 50, "0xg")
	tr := newHeadTracker(256, 10)
	calls := 0
	if _, _, err := tr.next(context.Background(), c["0xa1"], c.fetch(&calls)); err != nil {
		t.Fatal(err)
	}
	seg, unlinked, err := tr.next(context.Background(), c["0xa50"], c.fetch(&calls))
	if err != nil {
		t.Fatal(err)
	}
	if !unlinked || len(seg) != 11 || seg[0].num != 40 || seg[10].num != 50 {
		t.Fatalf("got %v unlinked=%v, want 40..50 unlinked", nums(seg), unlinked)
	}
	seg, _, _ = tr.next(context.Background(), c.must(t, "0xa50"), c.fetch(&calls))
	if len(seg) != 0 {
		t.Fatalf("repeat after an unlinked gap delivered %v", nums(seg))
	}
}

func (c chain) must(t *testing.T, h string) header {
	t.Helper()
	x, ok := c[h]
	if !ok {
		t.Fatalf("no block %s", h)
	}
	return x
}

func TestHeadTrackerFetchErrorChangesNothing(t *testing.T) {
	c := chain{}
	c.build("a", 1, 5, "0xg")
	tr := newHeadTracker(256, 128)
	calls := 0
	if _, _, err := tr.next(context.Background(), c["0xa1"], c.fetch(&calls)); err != nil {
		t.Fatal(err)
	}
	failing := func(context.Context, string) (header, error) { return header{}, errors.New("node gone") }
	if _, _, err := tr.next(context.Background(), c["0xa4"], failing); err == nil {
		t.Fatal("want an error when an ancestor cannot be fetched")
	}
	seg, _, err := tr.next(context.Background(), c["0xa4"], c.fetch(&calls))
	if err != nil || !slices.Equal(nums(seg), []string{"0xa2", "0xa3", "0xa4"}) {
		t.Fatalf("after a failed fetch got %v, %v", nums(seg), err)
	}
}

func logJSON(num uint64, hash string, idx int, removed bool) []byte {
	return fmt.Appendf(nil, `{"address":"0x01","topics":[],"data":"0x","blockNumber":"0x%x","transactionHash":"0xt","transactionIndex":"0x0","blockHash":"%s","logIndex":"0x%x","removed":%v}`,
		num, hash, idx, removed)
}

func mustLog(t *testing.T, raw []byte) logEntry {
	t.Helper()
	l, err := parseLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLogTracker(t *testing.T) {
	tr := newLogTracker(256)
	deliver := func(raw []byte) []string {
		var out []string
		for _, r := range tr.next(mustLog(t, raw)) {
			out = append(out, string(r))
		}
		return out
	}
	l1 := logJSON(10, "0xa10", 0, false)
	l2 := logJSON(10, "0xa10", 1, false)
	l3 := logJSON(11, "0xa11", 0, false)
	if got := deliver(l1); len(got) != 1 || got[0] != string(l1) {
		t.Fatalf("new log: got %v", got)
	}
	if got := deliver(l1); len(got) != 0 {
		t.Fatalf("repeated log delivered again: %v", got)
	}
	deliver(l2)
	deliver(l3)
	if tr.floor != 10 {
		t.Fatalf("floor %d, want 10 after a log of block 11", tr.floor)
	}
	// A node's own removal of a delivered log passes; of an unknown log, not.
	if got := deliver(logJSON(11, "0xa11", 0, true)); len(got) != 1 {
		t.Fatalf("node removal of a delivered log: got %v", got)
	}
	if got := deliver(logJSON(11, "0xa11", 5, true)); len(got) != 0 {
		t.Fatalf("removal of a log never delivered passed: %v", got)
	}
	// A log of another block at height 10 removes block 10's logs first.
	got := deliver(logJSON(10, "0xb10", 0, false))
	want := []string{string(removedLog(l1)), string(removedLog(l2)), string(logJSON(10, "0xb10", 0, false))}
	if !slices.Equal(got, want) {
		t.Fatalf("replaced block:\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(want[0], `"removed":true`) || strings.Contains(want[0], `"removed":false`) {
		t.Fatalf("removedLog did not flip the flag: %s", want[0])
	}
	// canonical: a different hash at a height removes from there up.
	deliver(logJSON(12, "0xb12", 0, false))
	if out := tr.canonical(10, "0xb10"); len(out) != 0 {
		t.Fatalf("same hash removed logs: %s", out)
	}
	out := tr.canonical(10, "0xc10")
	if len(out) != 2 || !strings.Contains(string(out[1]), `"blockHash":"0xb12"`) {
		t.Fatalf("canonical change: got %q", out)
	}
	if len(tr.blocks) != 0 || tr.floor != 9 {
		t.Fatalf("after removal: %d blocks, floor %d", len(tr.blocks), tr.floor)
	}
}

func TestHeaderOfFollowsTheNodesOrder(t *testing.T) {
	block := []byte(`{"baseFeePerGas":"0x7","hash":"0xh","number":"0x2","parentHash":"0xp","size":"0x10","transactions":["0x1"],"uncles":[],"withdrawals":[]}`)
	h, err := headerOf(block, []string{"parentHash", "number", "baseFeePerGas", "hash"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"parentHash":"0xp","number":"0x2","baseFeePerGas":"0x7","hash":"0xh"}`; string(h.raw) != want {
		t.Fatalf("with keys: got %s want %s", h.raw, want)
	}
	h, err = headerOf(block, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"baseFeePerGas":"0x7","hash":"0xh","number":"0x2","parentHash":"0xp"}`; string(h.raw) != want {
		t.Fatalf("without keys: got %s want %s", h.raw, want)
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name   string
		params string
		kind   Kind
		key    string
		fails  bool
	}{
		{"newHeads", `["newHeads"]`, NewHeads, "newHeads", false},
		{"logs filter", `["logs", {"topics": [], "address": "0xAbC"}]`, Logs, `logs|{"address":"0xabc","topics":[]}`, false},
		{"same filter other spelling", `["logs",{"address":"0xabc","topics":[]}]`, Logs, `logs|{"address":"0xabc","topics":[]}`, false},
		{"pending with full bodies", `["newPendingTransactions", true]`, PendingTransactions, "newPendingTransactions|true", false},
		{"unknown kind passes through", `["transactionReceipts"]`, Other, "transactionReceipts", false},
		{"no kind", `[]`, 0, "", true},
		{"kind not a string", `[1]`, 0, "", true},
		{"logs filter not an object", `["logs", 5]`, 0, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRequest([]byte(tt.params))
			if tt.fails {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil || r.kind != tt.kind || r.key != tt.key {
				t.Fatalf("got kind %v key %q err %v", r.kind, r.key, err)
			}
		})
	}
}
