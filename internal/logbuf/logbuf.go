package logbuf

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Delay is how long a line may wait in the buffer.
const Delay = 200 * time.Millisecond

const bufferSize = 64 << 10

// Writer buffers what is written to it for out.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	buf    *bufio.Writer
	timer  *time.Timer // flushes Delay after the first buffered line
	armed  bool
	closed bool
	err    error // the last error writing to out, reported by Flush
	cut    bool  // a failed write may have left a line unended in out
}

// New returns a Writer for out.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, buf: bufio.NewWriterSize(out, bufferSize)}
	w.timer = time.AfterFunc(time.Hour, func() { _ = w.Flush() })
	w.timer.Stop()
	return w
}

// Write buffers p; the buffer is written out when it is full, or Delay
// later. After Close, p is written at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cut {
		w.cut = false
		_ = w.buf.WriteByte('\n') // end the line the failure cut, if it did
	}
	n, err := w.buf.Write(p)
	w.keep(err)
	switch {
	case w.closed:
		w.keep(w.buf.Flush())
	case !w.armed && w.buf.Buffered() > 0:
		w.armed = true
		w.timer.Reset(Delay)
	}
	return n, err
}

// Flush writes out what the buffer holds.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
}

func (w *Writer) flushLocked() {
	if w.armed {
		w.armed = false
		w.timer.Stop()
	}
	w.keep(w.buf.Flush())
}

// keep records the outcome of a write to out. After an error the buffer
// starts afresh (what it held is lost), so that later lines are tried
// again rather than refused for good.
func (w *Writer) keep(err error) {
	w.err = err
	if err != nil {
		w.buf.Reset(w.out)
		w.cut = true
	}
}

// Close writes out what is buffered; later writes go out at once.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	w.flushLocked()
	return w.err
}

type laterKey struct{}

// Later is the context to log a record with that may wait in the buffer
// (a line per request).
var Later = context.WithValue(context.Background(), laterKey{}, true)

// Handler is a slog handler writing to a Writer: records logged with
// Later stay in its buffer, every other record is written out at once.
type Handler struct {
	slog.Handler
	w *Writer
}

// NewHandler wraps h, which writes to w.
func NewHandler(h slog.Handler, w *Writer) *Handler { return &Handler{Handler: h, w: w} }

// Handle formats r into the buffer and writes the buffer out unless r was
// logged with Later.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if ctx.Value(laterKey{}) == nil {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

// WithAttrs keeps the wrapping.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

// WithGroup keeps the wrapping.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{Handler: h.Handler.WithGroup(name), w: h.w}
}
