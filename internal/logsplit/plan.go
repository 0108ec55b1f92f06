package logsplit

import (
	"strconv"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Config is one network's eth_getLogs settings.
type Config struct {
	// MaxRange is the most blocks one call may cover (0: no limit).
	MaxRange uint64
	// Split cuts ranges longer than ChunkBlocks into chunks; off, a call
	// within MaxRange goes to a node whole.
	Split bool
	// ChunkBlocks is the length of a chunk.
	ChunkBlocks uint64
	// Concurrency is how many chunks of one call are fetched at once.
	Concurrency int
}

// Splitter plans and runs the eth_getLogs calls of one network.
type Splitter struct {
	cfg     Config
	network string
	final   func() (uint64, bool)
	m       *netMetrics
}

// New returns the splitter of network; final reports the network's
// finalized block; m may be nil.
func New(network string, cfg Config, final func() (uint64, bool), m *Metrics) *Splitter {
	cfg.ChunkBlocks = max(cfg.ChunkBlocks, 1)
	cfg.Concurrency = max(cfg.Concurrency, 1)
	return &Splitter{cfg: cfg, network: network, final: final, m: m.forNetwork(network)}
}

// Chunk is a block range asked of one node.
type Chunk struct {
	From, To uint64
	// ToRaw is the client's toBlock as written, sent in place of To when
	// the client's range reaches past the head (nil: To).
	ToRaw []byte
	// Whole sends the client's own request: the plan is this one chunk.
	Whole bool
}

// Plan is what to do with a call.
type Plan struct {
	// Err refuses the call (over max_logs_block_range).
	Err *jsonrpc.Error
	// Chunks are the ranges to fetch, in block order; none: pass the call
	// to a node whole, untouched.
	Chunks []Chunk
	// filter is the client's filter object.
	filter []byte
}

// Plan reads the filter of an eth_getLogs call and plans it against the
// network head.
func (s *Splitter) Plan(params []byte, head uint64) Plan {
	var buf [2][]byte
	ps := jsonrpc.Params(params, buf[:0])
	if len(ps) != 1 || len(ps[0]) == 0 || ps[0][0] != '{' {
		return Plan{}
	}
	f := ps[0]
	if jsonrpc.Member(f, "blockHash") != nil {
		return Plan{}
	}
	toRaw := jsonrpc.Member(f, "toBlock")
	from, ok1 := s.resolve(jsonrpc.Member(f, "fromBlock"), head)
	to, ok2 := s.resolve(toRaw, head)
	if !ok1 || !ok2 || from > to {
		return Plan{} // a tag not resolved here, or the node's own error
	}
	if n := to - from + 1; s.cfg.MaxRange > 0 && (n > s.cfg.MaxRange || n == 0) {
		s.m.count(evRejected)
		return Plan{Err: rangeError(from, to, s.cfg.MaxRange)}
	}
	if !s.cfg.Split || from > head {
		return Plan{}
	}
	end := min(to, head)
	p := Plan{filter: f}
	if end-from < s.cfg.ChunkBlocks {
		p.Chunks = []Chunk{{From: from, To: end, Whole: true}}
	} else {
		s.m.count(evSplit)
		for lo := from; ; {
			hi := min((lo/s.cfg.ChunkBlocks+1)*s.cfg.ChunkBlocks-1, end)
			p.Chunks = append(p.Chunks, Chunk{From: lo, To: hi})
			if hi == end {
				break
			}
			lo = hi + 1
		}
	}
	if to > head {
		p.Chunks[len(p.Chunks)-1].ToRaw = toRaw
	}
	return p
}

// resolve turns a fromBlock or toBlock into a number: absent and "latest"
// are the head, "earliest" 0, "finalized" the finalized block. ok is false
// for what is not resolved here ("safe", "pending", an unknown head).
func (s *Splitter) resolve(v []byte, head uint64) (uint64, bool) {
	if n, ok := jsonrpc.ParseQuantity(v); ok {
		return n, true
	}
	switch string(v) {
	case "", `"latest"`:
		return head, head > 0
	case `"earliest"`:
		return 0, true
	case `"finalized"`:
		if s.final == nil {
			return 0, false
		}
		return s.final()
	}
	return 0, false
}

// rangeError is the answer to a call over max_logs_block_range.
func rangeError(from, to, limit uint64) *jsonrpc.Error {
	n := to - from + 1
	return jsonrpc.NewError(jsonrpc.CodeLimitExceeded, "eth_getLogs block range "+strconv.FormatUint(from, 10)+
		"-"+strconv.FormatUint(to, 10)+" ("+hex(from)+"-"+hex(to)+") is "+strconv.FormatUint(n, 10)+
		" blocks, over this network's max_logs_block_range of "+strconv.FormatUint(limit, 10)+
		": ask for at most "+strconv.FormatUint(limit, 10)+" blocks per call (split the range, or filter by blockHash)")
}

func hex(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

// AppendRequest appends the request for chunk c of p with id: the client's
// filter with its fromBlock and toBlock replaced.
func (p *Plan) AppendRequest(dst []byte, c Chunk, id []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"method":"eth_getLogs","params":[{`...)
	_ = jsonrpc.EachMember(p.filter, func(k, v []byte) {
		if string(k) == "fromBlock" || string(k) == "toBlock" {
			return
		}
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, `":`...)
		dst = append(dst, v...)
		dst = append(dst, ',')
	})
	dst = append(dst, `"fromBlock":"0x`...)
	dst = strconv.AppendUint(dst, c.From, 16)
	dst = append(dst, `","toBlock":`...)
	if c.ToRaw != nil {
		dst = append(dst, c.ToRaw...)
	} else {
		dst = append(dst, `"0x`...)
		dst = strconv.AppendUint(dst, c.To, 16)
		dst = append(dst, '"')
	}
	return append(dst, `}]}`...)
}
