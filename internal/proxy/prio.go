package proxy

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/evmgate/evmgate/internal/balancer"
	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// A network's Paths answer as flashbots' prio-load-balancer does at POST /
// and POST /sim, so its clients (mev-boost-relay's block validation) work
// unchanged:
//
//   - a node's answer carries the X-PrioLB-* timing and queue headers;
//   - the gateway's own failures (body too large, queue full, timeout, no
//     node) are plain text with prio-load-balancer's status codes, 400 for
//     a body too large and 500 otherwise, never a JSON-RPC error a client
//     would take for the node's verdict on its call;
//   - GET answers 200.

// Response headers of prio-load-balancer, in the canonical form Go writes
// them on the wire (its own server canonicalised them the same way).
const (
	hdrQueueDuration = "X-Priolb-Queuedurationus" // X-PrioLB-QueueDurationUs
	hdrSimDuration   = "X-Priolb-Simdurationus"   // X-PrioLB-SimDurationUs
	hdrTotalDuration = "X-Priolb-Totaldurationus" // X-PrioLB-TotalDurationUs
	hdrQueueStart    = "X-Priolb-Queuesizestart"  // X-PrioLB-QueueSizeStart
	hdrQueueEnd      = "X-Priolb-Queuesizeend"    // X-PrioLB-QueueSizeEnd
)

// QueueSizer is a Scheduler that reports its queue lengths, for the
// X-PrioLB-QueueSize* headers. Without it both headers are 0.
type QueueSizer interface {
	// AcquireQueued is Acquire that also returns how many calls of the
	// class waited when the call joined the queue, itself included (0: a
	// worker slot was free at once).
	AcquireQueued(ctx context.Context, class Class, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, int, error)
	// Queued returns how many calls of the class wait now.
	Queued(class Class) int
}

// prioWriter is the response writer of a call on a prio-load-balancer
// path: it adds the X-PrioLB-* headers to a node's answer. It is allocated
// only for those paths.
type prioWriter struct {
	http.ResponseWriter
	start time.Time // the request arrived
	tryAt time.Time // the try whose answer is written was sent
	class Class
	sizer QueueSizer
	// queuedStart is the class queue length the call joined (first try).
	queuedStart int
	acquired    bool
	// plain is set for the gateway's own answers, which carry no headers.
	plain   bool
	written bool
	vals    [5]string // backing of the header values
}

// acquire gets a worker slot on a node and notes when the try starts.
func (p *prioWriter) acquire(ctx context.Context, net *Network, class Class, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error) {
	var n *upstream.Node
	var err error
	if p.sizer != nil {
		var queued int
		n, queued, err = p.sizer.AcquireQueued(ctx, class, retry, tried, need)
		if !p.acquired {
			p.queuedStart, p.acquired = queued, true
		}
	} else {
		n, err = net.Sched.Acquire(ctx, class, retry, tried, need)
	}
	p.tryAt = time.Now()
	return n, err
}

// WriteHeader adds the headers to a node's answer.
func (p *prioWriter) WriteHeader(code int) {
	if !p.written {
		p.written = true
		if code == http.StatusOK && !p.plain {
			p.setHeaders()
		}
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *prioWriter) Write(b []byte) (int, error) {
	if !p.written {
		p.WriteHeader(http.StatusOK)
	}
	return p.ResponseWriter.Write(b)
}

// ReadFrom keeps the server's sendfile/copy path for streamed answers.
func (p *prioWriter) ReadFrom(r io.Reader) (int64, error) {
	if !p.written {
		p.WriteHeader(http.StatusOK)
	}
	if rf, ok := p.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{p.ResponseWriter}, r)
}

// Retake takes the answer back from the writer under it, when that writer
// can; the headers are written again with the next answer.
func (p *prioWriter) Retake() bool {
	if r, ok := p.ResponseWriter.(retaker); !ok || !r.Retake() {
		return false
	}
	p.written = false
	return true
}

// Unwrap lets http.ResponseController reach the server's writer.
func (p *prioWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// setHeaders writes the five headers with one string allocation.
func (p *prioWriter) setHeaders() {
	now := time.Now()
	tryAt := p.tryAt
	if tryAt.IsZero() {
		tryAt = now
	}
	queuedEnd := 0
	if p.sizer != nil {
		queuedEnd = p.sizer.Queued(p.class)
	}
	nums := [5]int64{
		tryAt.Sub(p.start).Microseconds(),
		now.Sub(tryAt).Microseconds(),
		now.Sub(p.start).Microseconds(),
		int64(p.queuedStart),
		int64(queuedEnd),
	}
	var buf [5 * 20]byte
	b := buf[:0]
	var ends [5]int
	for i, v := range nums {
		b = strconv.AppendInt(b, v, 10)
		ends[i] = len(b)
	}
	all := string(b)
	from := 0
	for i, end := range ends {
		p.vals[i] = all[from:end]
		from = end
	}
	h := p.ResponseWriter.Header()
	h[hdrQueueDuration] = p.vals[0:1:1]
	h[hdrSimDuration] = p.vals[1:2:2]
	h[hdrTotalDuration] = p.vals[2:3:3]
	h[hdrQueueStart] = p.vals[3:4:4]
	h[hdrQueueEnd] = p.vals[4:5:5]
}

// writePlainError answers a gateway failure as prio-load-balancer does:
// plain text, 400 for a body too large, 500 otherwise; a call the end of
// a shutdown's grace interrupted gets 503 (with Retry-After, set by
// writeError), which says to send it to another replica. Errors about the
// request itself (not JSON, not JSON-RPC, invalid params, batch too
// large) stay JSON-RPC errors, as a node would have answered them.
func (p *prioWriter) writePlainError(e *jsonrpc.Error) (size, status int, ok bool) {
	switch e.Code {
	case jsonrpc.CodeParseError, jsonrpc.CodeInvalidRequest, jsonrpc.CodeInvalidParams, jsonrpc.CodeBatchTooLarge:
		return 0, 0, false
	case jsonrpc.CodeTooLarge:
		status = http.StatusBadRequest
	case jsonrpc.CodeShuttingDown:
		status = http.StatusServiceUnavailable
	default:
		status = http.StatusInternalServerError
	}
	p.plain = true
	msg := e.Message
	if e.Code == jsonrpc.CodeTooLarge {
		msg = "Payload too large: " + msg
	}
	h := p.ResponseWriter.Header()
	h["Content-Type"] = textHeader
	h["X-Content-Type-Options"] = nosniffHeader
	p.WriteHeader(status)
	n, _ := io.WriteString(p.ResponseWriter, msg+"\n")
	return n, status, true
}

var (
	textHeader    = []string{"text/plain; charset=utf-8"}
	nosniffHeader = []string{"nosniff"}
)

// servePrioGet answers GET on a prio-load-balancer path.
func servePrioGet(w http.ResponseWriter) {
	w.Header()["Content-Type"] = textHeader
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "evmgate: prio-load-balancer compatible; POST JSON-RPC calls to this path\n")
}

// acquire gets a worker slot for the exchange's next try.
func (ex *exchange) acquire(ctx context.Context, retry bool, tried []*upstream.Node, need balancer.Need) (*upstream.Node, error) {
	if ex.prio != nil {
		return ex.prio.acquire(ctx, ex.net, ex.class, retry, tried, need)
	}
	return ex.net.Sched.Acquire(ctx, ex.class, retry, tried, need)
}
