package registry

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// Waits between reconnection attempts of the Redis subscription.
const (
	retryMin    = 100 * time.Millisecond
	retryMax    = time.Second
	syncTimeout = 3 * time.Second
)

// receive turns Redis change notifications into kicks of follow. A
// (re)subscription counts as one: notifications sent while the connection
// was down are lost, so the whole set is read again.
func (r *Registry) receive(ctx context.Context, ps *redis.PubSub) {
	wait := retryMin
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, 2*r.cfg.resync())
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		switch {
		case err == nil:
			wait = retryMin
			switch msg.(type) {
			case *redis.Subscription, *redis.Message:
				r.poke()
			}
		case errors.As(err, &ne) && ne.Timeout():
			_ = ps.Ping(ctx) // a dead connection fails the ping and is replaced
		default:
			if !pause(ctx, wait) {
				return
			}
			wait = min(2*wait, retryMax)
		}
	}
}

// follow re-reads Redis when kicked and every resync interval.
func (r *Registry) follow(ctx context.Context) {
	t := time.NewTicker(r.cfg.resync())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, syncTimeout)
		if err := r.sync(sctx); err != nil {
			r.log.Debug("resync failed", "err", err)
		}
		cancel()
	}
}

func (r *Registry) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// pause waits d or until ctx ends; it reports whether d passed.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
