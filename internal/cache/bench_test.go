package cache

import (
	"testing"
)

// BenchmarkHit is a lookup that hits: key, store read, id splice.
func BenchmarkHit(b *testing.B) {
	n := newStore(b, 64<<20).Network("main", fixed(1000))
	c := call(b, `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]}`)
	cc := n.Prepare(c)
	n.Put(&cc, []byte(`{"jsonrpc":"2.0","id":1,"result":"0xde0b6b3a7640000"}`), node1)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		cc := n.Prepare(c)
		if _, ok := n.Get(&cc, c.ID, dst[:0]); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkMiss is what a call that may be kept costs before it goes to a
// node: key and store read.
func BenchmarkMiss(b *testing.B) {
	n := newStore(b, 64<<20).Network("main", fixed(1000))
	c := call(b, `{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x00000000219ab540356cbb839cbe05303d7705fa","0x10"]}`)
	b.ReportAllocs()
	for b.Loop() {
		cc := n.Prepare(c)
		if _, ok := n.Get(&cc, c.ID, nil); ok {
			b.Fatal("hit")
		}
	}
}

// BenchmarkDedupAlone is a safe read's flight when no identical call is in
// flight: join as leader, finish.
func BenchmarkDedupAlone(b *testing.B) {
	n := newStore(b, 64<<20).Network("main", fixed(1000))
	c := call(b, `{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}`)
	resp := []byte(`{"jsonrpc":"2.0","id":1,"result":"0x10"}`)
	b.ReportAllocs()
	for b.Loop() {
		cc := n.Prepare(c)
		f, _ := n.Join(&cc, 1)
		n.Finish(&cc, f, resp)
	}
}

// BenchmarkPut keeps a 1 kB answer.
func BenchmarkPut(b *testing.B) {
	n := newStore(b, 64<<20).Network("main", fixed(1000))
	c := call(b, `{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["0x10",false]}`)
	resp := append(append([]byte(`{"jsonrpc":"2.0","id":1,"result":"`), make([]byte, 1000)...), `"}`...)
	for i := 34; i < 1034; i++ {
		resp[i] = 'a'
	}
	cc := n.Prepare(c)
	b.ReportAllocs()
	for b.Loop() {
		if !n.Put(&cc, resp, node1) {
			b.Fatal("not kept")
		}
	}
}
