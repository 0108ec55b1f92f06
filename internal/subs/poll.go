package subs

import (
	"context"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// pollStream feeds newHeads or logs from a node without WebSocket by
// polling its newest block over HTTP.
type pollStream struct {
	endable
	cancel context.CancelFunc
}

func (p *pollStream) Close() { p.cancel() }

// poll starts a polling stream for r on n. The first poll, which fixes
// where the stream starts, is made before poll returns; the goroutine is
// counted in wg.
func poll(ctx context.Context, wg *sync.WaitGroup, n *upstream.Node, r *request, every, timeout time.Duration, maxGap int) (*pollStream, error) {
	heads := newHeadTracker(uint64(maxGap)+1, maxGap)
	fetch := func(ctx context.Context, hash string) (header, error) {
		b, err := blockByHash(ctx, n, hash)
		if err != nil {
			return header{}, err
		}
		return headerOf(b, nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &pollStream{endable: newEndable(streamBuffer), cancel: cancel}
	if err := p.tick(ctx, n, r, &heads, fetch, timeout, true); err != nil {
		cancel()
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				p.end(ctx.Err())
				return
			case <-t.C:
			}
			if err := p.tick(ctx, n, r, &heads, fetch, timeout, false); err != nil {
				p.end(err)
				return
			}
		}
	}()
	return p, nil
}

// tick reads the newest block and pushes what is new since the last tick.
func (p *pollStream) tick(ctx context.Context, n *upstream.Node, r *request, heads *headTracker, fetch fetchFunc, timeout time.Duration, first bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := blockByNumber(ctx, n, "latest")
	if err != nil {
		return err
	}
	h, err := headerOf(b, nil)
	if err != nil {
		return err
	}
	seg, _, err := heads.next(ctx, h, fetch)
	if err != nil || first {
		return err // the first head only sets where the stream starts
	}
	for _, x := range seg {
		if r.kind == NewHeads {
			if !p.push(Event{Result: x.raw}) {
				return errStreamFull
			}
			continue
		}
		if !p.push(Event{Block: x.num, Hash: x.hash}) {
			return errStreamFull
		}
		logs, err := getLogs(ctx, n, r, 0, 0, x.hash)
		if err != nil {
			return err
		}
		for _, l := range logs {
			if !p.push(Event{Result: l}) {
				return errStreamFull
			}
		}
	}
	return nil
}
