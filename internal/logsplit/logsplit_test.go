package logsplit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

func splitter(cfg Config, final uint64) *Splitter {
	return New("main", cfg, func() (uint64, bool) { return final, final > 0 }, nil)
}

func params(filter string) []byte { return []byte("[" + filter + "]") }

func TestPlan(t *testing.T) {
	t.Parallel()
	s := splitter(Config{MaxRange: 10000, Split: true, ChunkBlocks: 100, Concurrency: 4}, 900)
	const head = 1000
	for _, tc := range []struct {
		name, filter string
		want         string // chunks as from-to, "|" between; "" pass whole; "err" refused
	}{
		{"numbers", `{"fromBlock":"0x0","toBlock":"0x12b"}`, "0-99|100-199|200-299"},
		{"unaligned", `{"fromBlock":"0x32","toBlock":"0xfa"}`, "50-99|100-199|200-250"},
		{"one chunk", `{"fromBlock":"0xa","toBlock":"0x14"}`, "whole 10-20"},
		{"latest", `{"fromBlock":"0x384","toBlock":"latest"}`, "900-999|1000-1000"},
		{"no toBlock", `{"fromBlock":"0x384"}`, "900-999|1000-1000"},
		{"no range", `{"address":"0x01"}`, "whole 1000-1000"},
		{"earliest", `{"fromBlock":"earliest","toBlock":"0x95"}`, "0-99|100-149"},
		{"finalized", `{"fromBlock":"0x320","toBlock":"finalized"}`, "800-899|900-900"},
		{"past head", `{"fromBlock":"0x384","toBlock":"0x44c"}`, "900-999|1000-1000 to \"0x44c\""},
		{"from past head", `{"fromBlock":"0x3e9","toBlock":"0x44c"}`, ""},
		{"safe", `{"fromBlock":"0x0","toBlock":"safe"}`, ""},
		{"pending", `{"fromBlock":"0x0","toBlock":"pending"}`, ""},
		{"block hash", `{"blockHash":"0x` + strings.Repeat("ab", 32) + `"}`, ""},
		{"reversed", `{"fromBlock":"0x20","toBlock":"0x10"}`, ""},
		{"over max", `{"fromBlock":"0x0","toBlock":"0x2710"}`, "err"},
		{"max exactly", `{"fromBlock":"0x1","toBlock":"0x2710"}`, "split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := s.Plan(params(tc.filter), head)
			got := describe(p)
			if tc.want == "split" {
				if len(p.Chunks) < 2 || p.Err != nil {
					t.Fatalf("got %s, want a split", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("plan %s, want %s", got, tc.want)
			}
		})
	}
}

func describe(p Plan) string {
	if p.Err != nil {
		return "err"
	}
	var parts []string
	for _, c := range p.Chunks {
		d := fmt.Sprintf("%d-%d", c.From, c.To)
		if c.Whole {
			d = "whole " + d
		}
		if c.ToRaw != nil {
			d += " to " + string(c.ToRaw)
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, "|")
}

// TestRangeError: the refusal names the range, the limit and the fix.
func TestRangeError(t *testing.T) {
	t.Parallel()
	p := splitter(Config{MaxRange: 5000, Split: true, ChunkBlocks: 100}, 0).Plan(params(`{"fromBlock":"0x1","toBlock":"latest"}`), 20000)
	if p.Err == nil {
		t.Fatal("not refused")
	}
	for _, want := range []string{"1-20000", "0x1-0x4e20", "20000 blocks", "max_logs_block_range of 5000", "at most 5000 blocks"} {
		if !strings.Contains(p.Err.Message, want) {
			t.Errorf("%q lacks %q", p.Err.Message, want)
		}
	}
	if p.Err.Code != jsonrpc.CodeLimitExceeded {
		t.Errorf("code %d", p.Err.Code)
	}
}

func TestSplitOff(t *testing.T) {
	t.Parallel()
	s := splitter(Config{MaxRange: 500, Split: false, ChunkBlocks: 10}, 0)
	if p := s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x1f3"}`), 1000); p.Err != nil || len(p.Chunks) != 0 {
		t.Fatalf("split off, within the limit: %s, want whole", describe(p))
	}
	if p := s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x1f4"}`), 1000); p.Err == nil {
		t.Fatal("split off still enforces max_logs_block_range")
	}
}

func TestAppendRequest(t *testing.T) {
	t.Parallel()
	s := splitter(Config{Split: true, ChunkBlocks: 10}, 0)
	p := s.Plan(params(`{ "address" : ["0xAB"], "fromBlock":"0x0", "topics":[null,"0x01"], "toBlock":"0x20"}`), 100)
	got := string(p.AppendRequest(nil, Chunk{From: 16, To: 31}, []byte(`7`)))
	want := `{"jsonrpc":"2.0","id":7,"method":"eth_getLogs","params":[{"address":["0xAB"],"topics":[null,"0x01"],"fromBlock":"0x10","toBlock":"0x1f"}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	got = string(p.AppendRequest(nil, Chunk{From: 16, To: 31, ToRaw: []byte(`"latest"`)}, []byte(`7`)))
	if !strings.HasSuffix(got, `"fromBlock":"0x10","toBlock":"latest"}]}`) {
		t.Fatalf("raw toBlock not kept: %s", got)
	}
}

// logsOf holds node answers as Run returns them.
func logsOf(t testing.TB, answers ...[]byte) *Logs {
	t.Helper()
	l := &Logs{}
	for _, a := range answers {
		rs, re, ok := jsonrpc.ResultSpan(a)
		if !ok {
			t.Fatalf("no result in %s", a)
		}
		l.parts = append(l.parts, part{answer: a, rs: rs, re: re})
		l.size += len(a)
	}
	return l
}

func answer(id string, logs ...string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":` + id + `,"result":[` + strings.Join(logs, ",") + "]}\n")
}

// TestAppendTo: the logs of every part, in order, in the first part's
// envelope with the client's id, whatever the order of id and result.
func TestAppendTo(t *testing.T) {
	t.Parallel()
	parts := [][]byte{answer("1", `{"a":1}`, `{"a":2}`), answer("1"), answer("1", `{"a":3}`)}
	got := string(logsOf(t, parts...).AppendTo(nil, []byte(`"cli"`)))
	if want := `{"jsonrpc":"2.0","id":"cli","result":[{"a":1},{"a":2},{"a":3}]}` + "\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := string(logsOf(t, answer("1"), answer("1")).AppendTo(nil, []byte(`2`))); got != `{"jsonrpc":"2.0","id":2,"result":[]}`+"\n" {
		t.Fatalf("empty: %q", got)
	}
	resultFirst := [][]byte{[]byte(`{"result": [ {"b":1} ],"id":1,"jsonrpc":"2.0"}`), []byte(`{"result":[{"b":2}],"id":1,"jsonrpc":"2.0"}`)}
	if got := string(logsOf(t, resultFirst...).AppendTo(nil, []byte(`9`))); got != `{"result": [{"b":1},{"b":2}],"id":9,"jsonrpc":"2.0"}` {
		t.Fatalf("result first: %q", got)
	}
	one := answer("1", `{"x":"y"}`)
	if got := string(logsOf(t, one).AppendTo(nil, []byte(`5`))); got != strings.Replace(string(one), `"id":1`, `"id":5`, 1) {
		t.Fatalf("one part: %q", got)
	}
}

// node answers a chunk with one log per block, or "too many" above limit blocks.
type node struct {
	limit    uint64
	mu       sync.Mutex
	asked    []Chunk
	inFlight atomic.Int32
	peak     atomic.Int32
	failAt   uint64 // a chunk holding this block fails (0: none)
}

func (n *node) fetch(_ context.Context, c Chunk) ([]byte, error) {
	cur := n.inFlight.Add(1)
	defer n.inFlight.Add(-1)
	for p := n.peak.Load(); cur > p && !n.peak.CompareAndSwap(p, cur); p = n.peak.Load() {
	}
	n.mu.Lock()
	n.asked = append(n.asked, c)
	n.mu.Unlock()
	if n.failAt != 0 && c.From <= n.failAt && n.failAt <= c.To {
		return nil, errors.New("connection refused")
	}
	if c.To-c.From+1 > n.limit {
		return []byte(`{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"query returned more than 10000 results"}}`), nil
	}
	var logs []string
	for b := c.From; b <= c.To; b++ {
		logs = append(logs, fmt.Sprintf(`{"blockNumber":"0x%x"}`, b))
	}
	return answer("1", logs...), nil
}

func TestRunBisects(t *testing.T) {
	t.Parallel()
	s := splitter(Config{Split: true, ChunkBlocks: 100, Concurrency: 3}, 0)
	p := s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x3e7"}`), 2000)
	n := &node{limit: 30}
	parts, err := s.Run(context.Background(), &p, 1<<30, n.fetch)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for b := range 1000 {
		want = append(want, fmt.Sprintf(`{"blockNumber":"0x%x"}`, b))
	}
	if got, w := string(parts.AppendTo(nil, []byte("1"))), string(answer("1", want...)); got != w {
		t.Fatalf("stitched answer differs:\n%.200s\n%.200s", got, w)
	}
	for _, c := range n.asked {
		if c.To-c.From+1 > 100 {
			t.Fatalf("asked %d-%d, over the chunk size", c.From, c.To)
		}
	}
	if peak := n.peak.Load(); peak > 3 {
		t.Fatalf("%d chunks at once, over the concurrency of 3", peak)
	}
}

func TestRunFailsWhole(t *testing.T) {
	t.Parallel()
	s := splitter(Config{Split: true, ChunkBlocks: 10, Concurrency: 2}, 0)
	p := s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x63"}`), 2000)
	n := &node{limit: 100, failAt: 55}
	if parts, err := s.Run(context.Background(), &p, 1<<30, n.fetch); err == nil || parts != nil {
		t.Fatalf("a failed chunk gave %v, err %v", parts, err)
	}
	// A single block still too large: the node's own answer.
	n = &node{limit: 0}
	p = s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x3"}`), 2000)
	_, err := s.Run(context.Background(), &p, 1<<30, n.fetch)
	var ae *AnswerError
	if !errors.As(err, &ae) || !strings.Contains(ae.Error(), "more than 10000") {
		t.Fatalf("err %v, want the node's answer", err)
	}
	// Answers over maxBytes in all.
	n = &node{limit: 100}
	p = s.Plan(params(`{"fromBlock":"0x0","toBlock":"0x63"}`), 2000)
	_, err = s.Run(context.Background(), &p, 300, n.fetch)
	var je *jsonrpc.Error
	if !errors.As(err, &je) || je.Code != jsonrpc.CodeAnswerTooLarge || !strings.Contains(je.Message, "max_answer_bytes") {
		t.Fatalf("err %v, want answer too large", err)
	}
}

func TestTooMany(t *testing.T) {
	t.Parallel()
	for _, m := range []string{
		"query returned more than 10000 results",
		"query returned more than 10000 results. Try with this block range [0x1, 0x2].",
		"Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
		"query returns too many logs, narrow your filter: 20000",
		"query block range exceeds server limit, narrow your filter: 1000",
		"block range too large, max range: 10000",
		"range 1000000 exceeds limit of 10000",
		"eth_getLogs is limited to a 10,000 range",
		"block range is larger than max block range, block range = 5120, max block range = 5000",
		"exceed maximum block range: 50000",
		"Too many logs requested. Max logs per response is 10000.",
	} {
		if !TooMany(m) {
			t.Errorf("%q not seen as too many", m)
		}
	}
	for _, m := range []string{
		"block range extends beyond current head block",
		"invalid block range params",
		"header not found",
		"daily request count exceeded, request rate limited",
		"exceed max addresses or topics per search position",
	} {
		if TooMany(m) {
			t.Errorf("%q seen as too many", m)
		}
	}
}

// TestWriteTo: written piece by piece, the answer is AppendTo's, of Size bytes.
func TestWriteTo(t *testing.T) {
	t.Parallel()
	for _, parts := range [][][]byte{
		{answer("1", `{"a":1}`), answer("1"), answer("1", `{"a":3}`, `{"a":4}`)},
		{answer("1", `{"a":1}`)},
		{[]byte(`{"result":[{"b":1}],"id":1}`), []byte(`{"result":[{"b":2}],"id":1}`)},
	} {
		l := logsOf(t, parts...)
		var buf strings.Builder
		n, err := l.WriteTo(&buf, []byte(`"x"`))
		want := string(l.AppendTo(nil, []byte(`"x"`)))
		if err != nil || buf.String() != want || n != len(want) || l.Size([]byte(`"x"`)) != len(want) {
			t.Fatalf("WriteTo %q (%d, %v), Size %d; AppendTo %q", buf.String(), n, err, l.Size([]byte(`"x"`)), want)
		}
	}
}
