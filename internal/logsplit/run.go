package logsplit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// Run fetches the chunks of p, at most the network's concurrency at once,
// cutting in two any chunk answered as too large, and returns every answer
// in block order. The first failure cancels the others and is returned: no
// partial answer. maxBytes bounds the answers held in all.
func (s *Splitter) Run(ctx context.Context, p *Plan, maxBytes int, fetch Fetch) ([][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{s: s, fetch: fetch, maxBytes: int64(maxBytes)}
	parts := make([][][]byte, len(p.Chunks))
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
	var out [][]byte
	for _, ps := range parts {
		out = append(out, ps...)
	}
	return out, nil
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
func (r *run) chunk(ctx context.Context, c Chunk, out [][]byte) ([][]byte, error) {
	r.s.m.count(evChunk)
	resp, err := r.fetch(ctx, c)
	if err == nil {
		if e := jsonrpc.ErrorOf(resp); e != nil {
			if !TooMany(e.Message) || c.From >= c.To {
				return nil, &AnswerError{Answer: resp}
			}
			err = fmt.Errorf("%w: %s", ErrTooLarge, e.Message)
		} else if res := jsonrpc.ResultValue(resp); len(res) == 0 || res[0] != '[' {
			return nil, fmt.Errorf("eth_getLogs blocks %d-%d: the node's answer holds no log array: %.80q", c.From, c.To, resp)
		} else if r.held.Add(int64(len(resp))) > r.maxBytes {
			return nil, jsonrpc.NewError(jsonrpc.CodeAnswerTooLarge, "answer too large: the logs of blocks "+
				strconv.FormatUint(c.From, 10)+" and before are over max_answer_bytes ("+strconv.FormatInt(r.maxBytes, 10)+
				" bytes): ask for a smaller block range or a narrower filter")
		} else {
			return append(out, resp), nil
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

// Stitch appends one answer holding the logs of every part, in order: the
// first part's bytes with id in place of its id and, in place of its result,
// one array of the parts' log bytes as the nodes wrote them. A single part
// is that part with id.
func Stitch(dst []byte, parts [][]byte, id []byte) []byte {
	first := parts[0]
	is, ie, okID := jsonrpc.IDSpan(first)
	rs, re, okRes := jsonrpc.ResultSpan(first)
	if !okID || !okRes {
		return append(dst, first...)
	}
	size := len(first) + len(id)
	for _, p := range parts[1:] {
		size += len(p)
	}
	if cap(dst)-len(dst) < size {
		dst = append(make([]byte, 0, len(dst)+size), dst...)
	}
	logs := func(dst []byte) []byte {
		if len(parts) == 1 {
			return append(dst, first[rs:re]...)
		}
		dst = append(dst, '[')
		empty := true
		for _, p := range parts {
			inner := bytes.TrimSpace(arrayInner(jsonrpc.ResultValue(p)))
			if len(inner) == 0 {
				continue
			}
			if !empty {
				dst = append(dst, ',')
			}
			dst, empty = append(dst, inner...), false
		}
		return append(dst, ']')
	}
	if is < rs {
		dst = append(dst, first[:is]...)
		dst = append(dst, id...)
		dst = append(dst, first[ie:rs]...)
		dst = logs(dst)
		return append(dst, first[re:]...)
	}
	dst = append(dst, first[:rs]...)
	dst = logs(dst)
	dst = append(dst, first[re:is]...)
	dst = append(dst, id...)
	return append(dst, first[ie:]...)
}

// arrayInner is what lies between an array's brackets.
func arrayInner(a []byte) []byte {
	if len(a) < 2 {
		return nil
	}
	return a[1 : len(a)-1]
}
