package logsplit

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// chunkAnswer is a node's answer over blocks from..to with a 400-byte log
// in each block.
func chunkAnswer(from, to uint64) []byte {
	var logs []string
	for b := from; b <= to; b++ {
		logs = append(logs, fmt.Sprintf(`{"address":"0x00000000000000000000000000000000000000aa","topics":["0x%064x"],"data":"0x%064x","blockNumber":"0x%x","transactionHash":"0x%064x","transactionIndex":"0x0","blockHash":"0x%064x","logIndex":"0x0","removed":false}`, b, b, b, b, b))
	}
	return answer("1", logs...)
}

// BenchmarkAppendTo joins 5 chunk answers of 400 logs each (about 1 MB).
func BenchmarkAppendTo(b *testing.B) {
	var parts [][]byte
	var size int
	for i := range uint64(5) {
		p := chunkAnswer(i*400, i*400+399)
		parts = append(parts, p)
		size += len(p)
	}
	l := logsOf(b, parts...)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		l.AppendTo(nil, []byte(`"client-7"`))
	}
}

// BenchmarkWriteTo writes the same answers to a writer, as the proxy does.
func BenchmarkWriteTo(b *testing.B) {
	var parts [][]byte
	var size int
	for i := range uint64(5) {
		p := chunkAnswer(i*400, i*400+399)
		parts = append(parts, p)
		size += len(p)
	}
	l := logsOf(b, parts...)
	var out bytes.Buffer // a socket's buffer: every byte is copied once
	out.Grow(size + 64)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		out.Reset()
		if _, err := l.WriteTo(&out, []byte(`"client-7"`)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanWhole is what an eth_getLogs call that goes to a node whole
// costs before it leaves: reading its filter.
func BenchmarkPlanWhole(b *testing.B) {
	s := splitter(Config{MaxRange: 10000, Split: true, ChunkBlocks: 2000, Concurrency: 4}, 0)
	p := params(`{"address":"0x00000000219ab540356cbb839cbe05303d7705fa","fromBlock":"0x100","toBlock":"0x200","topics":["0x` + strings.Repeat("ab", 32) + `"]}`)
	b.ReportAllocs()
	for b.Loop() {
		s.Plan(p, 100000)
	}
}

// BenchmarkRunStitch is a whole split call without the network: 10,000
// blocks in chunks of 2,000 fetched from memory, 4 at a time, and stitched
// (about 2 MB), written out as the proxy writes it.
func BenchmarkRunStitch(b *testing.B) {
	s := splitter(Config{Split: true, ChunkBlocks: 2000, Concurrency: 4}, 0)
	p := s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x270f"}`), 20000)
	answers := map[uint64][]byte{}
	var size int
	for _, c := range p.Chunks {
		answers[c.From] = chunkAnswer(c.From, c.From+199) // 200 logs per chunk
		size += len(answers[c.From])
	}
	fetch := func(_ context.Context, c Chunk) ([]byte, error) { return answers[c.From], nil }
	var out bytes.Buffer
	out.Grow(size + 64)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		logs, err := s.Run(context.Background(), &p, 64<<20, fetch)
		if err != nil {
			b.Fatal(err)
		}
		out.Reset()
		if _, err := logs.WriteTo(&out, []byte(`1`)); err != nil {
			b.Fatal(err)
		}
	}
}
