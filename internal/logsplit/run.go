package logsplit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Fetch asks a node for chunk c and returns its whole answer: a result or
// the node's error answer. An error means no node answered; one that wraps
// ErrTooLarge cuts the chunk in two.
type Fetch func(ctx context.Context, c Chunk) ([]byte, error)

// ErrTooLarge is a chunk's answer too large to hold: a smaller range may do.
var ErrTooLarge = errors.New("answer too large")

// AnswerError is a node's error answer to one chunk, which the client gets
// as the answer to the whole call.
type AnswerError struct{ Answer []byte }

func (e *AnswerError) Error() string {
	if r := jsonrpc.ErrorOf(e.Answer); r != nil {
		return r.Message
	}
	return "error answer"
}

// Logs are the answers to a call's chunks, in block order.
type Logs struct {
	parts []part
	size  int
}

// part is one chunk's answer and where its log array lies in it.
type part struct {
	answer []byte
	rs, re int
}

// Run fetches the chunks of p, at most the network's concurrency at once,
// cutting in two any chunk answered as too large, and returns every answer
// in block order. The first failure cancels the others and is returned: no
// partial answer. maxBytes bounds the answers held in all.
func (s *Splitter) Run(ctx context.Context, p *Plan, maxBytes int, fetch Fetch) (*Logs, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{s: s, fetch: fetch, maxBytes: int64(maxBytes)}
	parts := make([][]part, len(p.Chunks))
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(s.cfg.Concurrency, len(p.Chunks)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(p.Chunks) || ctx.Err() != nil {
					return
				}
				out, err := r.chunk(ctx, p.Chunks[i], nil)
				if err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				parts[i] = out
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := &Logs{size: int(r.held.Load())}
	for _, ps := range parts {
		l.parts = append(l.parts, ps...)
	}
	return l, nil
}

// run is one call's chunks in flight.
type run struct {
	s        *Splitter
	fetch    Fetch
	maxBytes int64
	held     atomic.Int64 // bytes of answers held
}

// chunk fetches c, halving it while its answer is too large, and appends
// its answers in block order to out.
func (r *run) chunk(ctx context.Context, c Chunk, out []part) ([]part, error) {
	r.s.m.count(evChunk)
	resp, err := r.fetch(ctx, c)
	if err == nil {
		rs, re, ok := jsonrpc.ResultSpan(resp)
		switch {
		case ok && resp[rs] == '[':
			if r.held.Add(int64(len(resp))) > r.maxBytes {
				return nil, jsonrpc.NewError(jsonrpc.CodeAnswerTooLarge, "answer too large: the logs of blocks "+
					strconv.FormatUint(c.From, 10)+" and before are over max_answer_bytes ("+strconv.FormatInt(r.maxBytes, 10)+
					" bytes): ask for a smaller block range or a narrower filter")
			}
			return append(out, part{answer: resp, rs: rs, re: re}), nil
		case jsonrpc.ErrorOf(resp) == nil:
			return nil, fmt.Errorf("eth_getLogs blocks %d-%d: the node's answer holds no log array: %.80q", c.From, c.To, resp)
		}
		if e := jsonrpc.ErrorOf(resp); !TooMany(e.Message) || c.From >= c.To {
			return nil, &AnswerError{Answer: resp}
		} else {
			err = fmt.Errorf("%w: %s", ErrTooLarge, e.Message)
		}
	}
	if !errors.Is(err, ErrTooLarge) || c.From >= c.To {
		return nil, err
	}
	r.s.m.count(evBisect)
	mid := c.From + (c.To-c.From)/2
	out, err = r.chunk(ctx, Chunk{From: c.From, To: mid}, out)
	if err != nil {
		return nil, err
	}
	return r.chunk(ctx, Chunk{From: mid + 1, To: c.To, ToRaw: c.ToRaw}, out)
}

// AppendTo appends one answer holding the logs of every part, in order:
// the first part's bytes with id in place of its id and, in place of its
// result, one array of the parts' log bytes as the nodes wrote them. A
// single part is that part with id.
func (l *Logs) AppendTo(dst, id []byte) []byte {
	if need := l.size + len(id); cap(dst)-len(dst) < need {
		dst = append(make([]byte, 0, len(dst)+need), dst...)
	}
	l.pieces(id, func(b []byte) { dst = append(dst, b...) })
	return dst
}

// WriteTo writes the answer AppendTo makes to w, piece by piece, without
// copying the logs.
func (l *Logs) WriteTo(w io.Writer, id []byte) (int, error) {
	var n int
	var err error
	l.pieces(id, func(b []byte) {
		if err == nil {
			var k int
			k, err = w.Write(b)
			n += k
		}
	})
	return n, err
}

// Size is the length of the answer with id.
func (l *Logs) Size(id []byte) int {
	var n int
	l.pieces(id, func(b []byte) { n += len(b) })
	return n
}

var (
	openArray  = []byte("[")
	comma      = []byte(",")
	closeArray = []byte("]")
)

// pieces hands out the answer's bytes in order.
func (l *Logs) pieces(id []byte, emit func([]byte)) {
	first := l.parts[0]
	a := first.answer
	is, ie, ok := jsonrpc.IDSpan(a)
	if !ok {
		emit(a)
		return
	}
	if is < first.rs {
		emit(a[:is])
		emit(id)
		emit(a[ie:first.rs])
		l.logs(emit)
		emit(a[first.re:])
		return
	}
	emit(a[:first.rs])
	l.logs(emit)
	emit(a[first.re:is])
	emit(id)
	emit(a[ie:])
}

// logs hands out one array of every part's logs.
func (l *Logs) logs(emit func([]byte)) {
	if len(l.parts) == 1 {
		p := l.parts[0]
		emit(p.answer[p.rs:p.re])
		return
	}
	emit(openArray)
	empty := true
	for _, p := range l.parts {
		inner := bytes.TrimSpace(arrayInner(p.answer[p.rs:p.re]))
		if len(inner) == 0 {
			continue
		}
		if !empty {
			emit(comma)
		}
		emit(inner)
		empty = false
	}
	emit(closeArray)
}

// arrayInner is what lies between an array's brackets.
func arrayInner(a []byte) []byte {
	if len(a) < 2 {
		return nil
	}
	return a[1 : len(a)-1]
}
