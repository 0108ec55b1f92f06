package subs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// logEntry is a log notification with the fields deduplication needs.
type logEntry struct {
	num     uint64
	hash    string // block hash
	index   string // logIndex, as the node wrote it
	removed bool
	raw     []byte
}

func parseLog(raw []byte) (logEntry, error) {
	var l struct {
		BlockNumber string `json:"blockNumber"`
		BlockHash   string `json:"blockHash"`
		LogIndex    string `json:"logIndex"`
		Removed     bool   `json:"removed"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		return logEntry{}, fmt.Errorf("decoding log: %w", err)
	}
	num, err := parseQuantity(l.BlockNumber)
	if err != nil {
		return logEntry{}, fmt.Errorf("decoding log block number: %w", err)
	}
	return logEntry{num: num, hash: strings.ToLower(l.BlockHash), index: strings.ToLower(l.LogIndex), removed: l.Removed, raw: raw}, nil
}

// blockLogs are the logs delivered for one block.
type blockLogs struct {
	hash string
	logs []logEntry
}

// logTracker remembers the logs delivered per recent block, so that no log
// is delivered twice and the logs of a block that leaves the chain are sent
// again with "removed": true.
type logTracker struct {
	blocks  map[uint64]*blockLogs
	floor   uint64 // every log of the blocks up to floor has been delivered
	high    uint64 // the highest block with a delivered log
	started bool
	window  uint64
}

func newLogTracker(window uint64) logTracker {
	return logTracker{blocks: make(map[uint64]*blockLogs), window: window}
}

// next returns what to deliver for a log from the node: the log itself when
// it is new; first the removal of the logs of an older block at the same
// height when the log shows that block was replaced; nothing for a log
// already delivered, or a removal of a log never delivered.
func (t *logTracker) next(l logEntry) [][]byte {
	b := t.blocks[l.num]
	if l.removed {
		if b == nil || b.hash != l.hash {
			return nil
		}
		i := slices.IndexFunc(b.logs, func(x logEntry) bool { return x.index == l.index })
		if i < 0 {
			return nil
		}
		b.logs = slices.Delete(b.logs, i, i+1)
		if len(b.logs) == 0 {
			delete(t.blocks, l.num)
		}
		return [][]byte{l.raw}
	}
	var out [][]byte
	if b != nil && b.hash != l.hash {
		out = t.replacedFrom(l.num)
		b = nil
	}
	if b == nil {
		b = &blockLogs{hash: l.hash}
		t.blocks[l.num] = b
	}
	if slices.ContainsFunc(b.logs, func(x logEntry) bool { return x.index == l.index }) {
		return out
	}
	b.logs = append(b.logs, l)
	// A node sends logs block by block: the blocks below this one are complete.
	if l.num > 0 && l.num-1 > t.floor {
		t.floor = l.num - 1
	}
	if l.num > t.high {
		t.high = l.num
		if l.num >= t.window {
			t.prune(l.num - t.window)
		}
	}
	return append(out, l.raw)
}

// canonical records that block num's hash on the serving node is hash: the
// logs delivered for another block at that height, and for every block
// above it, are removed.
func (t *logTracker) canonical(num uint64, hash string) [][]byte {
	b := t.blocks[num]
	if b == nil || b.hash == strings.ToLower(hash) {
		return nil
	}
	return t.replacedFrom(num)
}

// replacedFrom forgets the logs of the blocks from num up and returns them
// as removals, oldest block first.
func (t *logTracker) replacedFrom(num uint64) [][]byte {
	var nums []uint64
	for n := range t.blocks {
		if n >= num {
			nums = append(nums, n)
		}
	}
	slices.Sort(nums)
	var out [][]byte
	for _, n := range nums {
		for _, l := range t.blocks[n].logs {
			out = append(out, removedLog(l.raw))
		}
		delete(t.blocks, n)
	}
	if num > 0 && t.floor >= num {
		t.floor = num - 1
	}
	return out
}

// heights returns the blocks with delivered logs, lowest first.
func (t *logTracker) heights() []uint64 {
	nums := make([]uint64, 0, len(t.blocks))
	for n := range t.blocks {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	return nums
}

func (t *logTracker) prune(below uint64) {
	for n := range t.blocks {
		if n < below {
			delete(t.blocks, n)
		}
	}
}

// removedLog returns the log with "removed": true.
func removedLog(raw []byte) []byte {
	const f, tr = `"removed":false`, `"removed":true`
	if i := bytes.Index(raw, []byte(f)); i >= 0 {
		out := make([]byte, 0, len(raw))
		out = append(out, raw[:i]...)
		out = append(out, tr...)
		return append(out, raw[i+len(f):]...)
	}
	ms, err := members(raw)
	if err != nil {
		return raw
	}
	if i := slices.IndexFunc(ms, func(m member) bool { return m.key == "removed" }); i >= 0 {
		ms[i].val = json.RawMessage("true")
	} else {
		ms = append(ms, member{key: "removed", val: json.RawMessage("true")})
	}
	return object(ms)
}
