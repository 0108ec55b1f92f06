package proxy

import (
	"context"
	"net"
	"time"

	"github.com/evmgate/evmgate/internal/upstream"
)

// longTry is the least try timeout whose tries end at the node as soon as
// their client leaves; a try of a call whose method_timeouts entry is
// longer than rpc_timeout always does. Shorter tries (rpc_timeout is 5 s unless set) hold a node for
// little after their client left, and a watch would cost every call of a
// busy gateway a goroutine and a timer.
const longTry = 10 * time.Second

// peerPoll is how often a long try on the fast server looks whether its
// client closed the connection: a system call each time.
const peerPoll = 250 * time.Millisecond

// watchesClient reports whether the request's tries are long ones, cut
// when their client leaves (see tryWatched).
func (ex *exchange) watchesClient() bool { return ex.times.slow || ex.times.try >= longTry }

// tryWatched runs a long try so that it ends at the node once its client
// is gone: the pooled HTTP/1.1 client watches the try's context
// (upstream.Interruptible), which net/http ends when its client leaves and
// which, on the fast server, a watch of the client's connection ends. The
// try then fails as upstream.KindCanceled: the client is gone, not the
// node's fault, nothing to retry. A try of a method with a method_timeouts
// entry is also kept out of the node's answer time (upstream.SlowMethod).
func (ex *exchange) tryWatched(ctx context.Context, n *upstream.Node, try func(context.Context, *upstream.Node) error) error {
	if ex.peer == nil || !peerPeekable {
		return try(ex.markLong(ctx), n)
	}
	wctx, cancel := context.WithCancelCause(ctx)
	stop, stopped := make(chan struct{}), make(chan struct{})
	go watchPeer(ex.peer, cancel, stop, stopped)
	defer func() {
		close(stop)
		<-stopped // nothing looks at the connection once its answer goes out
		cancel(nil)
	}()
	return try(ex.markLong(wctx), n)
}

// markLong marks ctx for a long try: interruptible, and kept out of the
// node's answer time when the method is slow by nature.
func (ex *exchange) markLong(ctx context.Context) context.Context {
	ctx = upstream.Interruptible(ctx)
	if ex.times.slow {
		ctx = upstream.SlowMethod(ctx)
	}
	return ctx
}

// watchPeer cancels with errClientGone once the client at the other end of
// c has closed it, until stop is closed; it closes stopped when it returns.
func watchPeer(c net.Conn, cancel context.CancelCauseFunc, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	t := time.NewTicker(peerPoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if peerClosed(c) {
				cancel(errClientGone)
				return
			}
		}
	}
}
