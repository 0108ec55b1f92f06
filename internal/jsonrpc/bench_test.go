package jsonrpc

import (
	"strconv"
	"strings"
	"testing"
)

func BenchmarkParseSingle(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x407d73d8a49eeb85d32cf465507dd71d507100c1","latest"]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBatch10(b *testing.B) {
	parts := make([]string, 10)
	for i := range parts {
		parts[i] = `{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"method":"eth_call","params":[{"to":"0x6b175474e89094c44da98b954eedeac495271d0f","data":"0x70a08231000000000000000000000000407d73d8a49eeb85d32cf465507dd71d507100c1"},"latest"]}`
	}
	body := []byte("[" + strings.Join(parts, ",") + "]")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if calls, _, err := Parse(body); err != nil || len(calls) != 10 {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanResponse(b *testing.B) {
	resp := []byte(`{"jsonrpc":"2.0","id":1,"result":{"number":"0x1b4","hash":"0xdc0818cf78f21a8e70579cb46a43643f78291264dda342ae31049421c82d21ae","transactions":[]}}`)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		if ScanResponse(resp) != Result {
			b.Fatal("not a result")
		}
	}
}

// BenchmarkResponseScanLongID classifies an answer whose id is 100 KB, fed
// as 4 KB reads arrive: the cost stays linear in the bytes read.
func BenchmarkResponseScanLongID(b *testing.B) {
	resp := []byte(`{"jsonrpc":"2.0","id":"` + strings.Repeat(`ab\"c`, 20<<10) + `","result":"0x1"}`)
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		var s ResponseScan
		o := NeedMore
		for k := 4 << 10; o == NeedMore; k += 4 << 10 {
			k = min(k, len(resp))
			o = s.Scan(resp[:k], k == len(resp))
		}
		if o != Result {
			b.Fatal("not a result")
		}
	}
}

func BenchmarkSplitBatch10(b *testing.B) {
	parts := make([]string, 10)
	for i := range parts {
		parts[i] = `{"jsonrpc":"2.0","id":` + strconv.Itoa(i) + `,"result":"0x00000000000000000000000000000000000000000000000000000000000f4240"}`
	}
	parts[3] = `{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"execution reverted"}}`
	resp := []byte("[" + strings.Join(parts, ",") + "]")
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	dst := make([]Element, 0, 16)
	for b.Loop() {
		if els, err := SplitBatchAppend(dst[:0], resp); err != nil || len(els) != 10 {
			b.Fatal(err)
		}
	}
}
