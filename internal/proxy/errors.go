package proxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// errQueueFull and errExpired come from the scheduler.
var (
	ErrQueueFull = errors.New("queue full")
	ErrExpired   = errors.New("expired while queued")
)

// NodesWaitingError is ErrNodesWaiting with the time until a node has room:
// the client's Retry-After.
type NodesWaitingError struct{ Wait time.Duration }

func (e *NodesWaitingError) Error() string {
	return fmt.Sprintf("%v: every node that could take it waits on its rate limit or cools down after a rate limit answer, %s more, past the call's deadline",
		ErrNodesWaiting, e.Wait.Round(time.Millisecond))
}

func (e *NodesWaitingError) Is(target error) bool { return target == ErrNodesWaiting }

// finalError turns the failures of every try into one precise error.
func (ex *exchange) finalError(ctx context.Context, failures []error) error {
	tryKey, budgetKey := "rpc_timeout", "request_timeout"
	if ex.times.methodTimed {
		whose := "its" // a batch's tries wait for its slowest call's entry
		if ex.method == "batch" {
			whose = "the batch's"
		}
		tryKey = whose + " method_timeouts entry (" + ex.times.try.String() + ")"
		if ex.times.budget > ex.h.options().RequestTimeout {
			budgetKey = whose + " method_timeouts entry (" + ex.times.budget.String() + ")"
		}
	}
	if stopped(ctx) {
		return errShutdown
	}
	if errors.Is(context.Cause(ctx), context.Canceled) && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errClientGone
	}
	var msgs []string
	for _, f := range failures {
		var ue *upstream.Error
		switch {
		case errors.Is(f, ErrQueueFull), errors.Is(f, ErrNodesWaiting):
			return jsonrpc.NewError(jsonrpc.CodeOverloaded, "overloaded: "+f.Error())
		case errors.Is(f, ErrNoNode):
			msgs = append(msgs, "no node of the network is available")
		case errors.As(f, &ue) && ue.Kind == upstream.KindTimeout:
			// The try's own deadline, not the request's (budgetSpent
			// turned those into KindDeadline).
			msgs = append(msgs, ue.Node+": "+tryKey+" passed before it answered")
		case errors.Is(f, ErrExpired), errors.Is(f, context.DeadlineExceeded):
			msgs = append(msgs, budgetKey+" passed before a node answered")
		default:
			msgs = append(msgs, f.Error())
		}
	}
	if ctx.Err() != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeTimeout, Message: "timeout: " + budgetKey + " passed before a node answered; tries: " + strings.Join(msgs, "; ")}
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "no node of the network is available")
	}
	return &jsonrpc.Error{Code: jsonrpc.CodeNoNodes, Message: "no node could answer: " + strings.Join(msgs, "; ")}
}

func (h *Handler) countRetry(n *Network) {
	if h.metrics != nil {
		h.metrics.Retries.WithLabelValues(n.Name).Inc()
	}
}

func (h *Handler) countTry(net *Network, n *upstream.Node, err error) {
	if h.metrics == nil {
		return
	}
	if err == nil {
		h.tries.get(net.Name, n.Name, "ok").Inc()
		return
	}
	outcome := "error"
	var ue *upstream.Error
	if errors.As(err, &ue) {
		outcome = ue.Kind.String()
		if ue.NodeFault() {
			h.metrics.NodeErrors.WithLabelValues(net.Name, n.Name, "proxy_"+outcome).Inc()
		}
	}
	h.tries.get(net.Name, n.Name, outcome).Inc()
}
