package upstream

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/valyala/fasthttp"
)

// Response is a node's answer with status 200, read as it arrives. The
// caller reads Body and then calls Close exactly once, which releases the
// connection to the node; the Response must not be used after Close.
type Response struct {
	Body          io.Reader
	ContentLength int64 // -1 when the node did not say

	std  *http.Response
	fast *fasthttp.Response
	body fastBody
	pool *connPool
	conn *pconn
	stop func() bool // ends the watch of an interruptible try; nil when none
}

var responsePool = sync.Pool{New: func() any { return new(Response) }}

func newStdResponse(resp *http.Response) *Response {
	r := responsePool.Get().(*Response)
	r.std, r.Body, r.ContentLength = resp, resp.Body, resp.ContentLength
	return r
}

func newFastResponse(resp *fasthttp.Response, pool *connPool, pc *pconn) *Response {
	r := responsePool.Get().(*Response)
	r.fast, r.pool, r.conn = resp, pool, pc
	r.body = fastBody{r: resp.BodyStream()}
	r.Body = &r.body
	r.ContentLength = int64(resp.Header.ContentLength())
	if r.ContentLength < 0 {
		r.ContentLength = -1 // chunked, or until the connection closes
	}
	return r
}

// drainLimit is how much of an unread answer Close reads so that the
// connection can serve the next call; a longer rest closes it instead.
const drainLimit = 4 << 10

// Close releases the answer and its connection.
func (r *Response) Close() error {
	var err error
	switch {
	case r.std != nil:
		err = r.std.Body.Close()
	case r.fast != nil:
		if !r.body.eof {
			// The connection serves the next call only once this answer
			// has been read to its end.
			_, _ = io.Copy(io.Discard, io.LimitReader(&r.body, drainLimit))
		}
		// An answer without a length ends when the node closes.
		reusable := r.body.eof && !r.fast.ConnectionClose() && r.fast.Header.ContentLength() >= -1
		if r.stop != nil && !r.stop() {
			reusable = false // cut by a cancellation: its deadline is in the past
		}
		err = r.fast.CloseBodyStream()
		fasthttp.ReleaseResponse(r.fast)
		r.pool.put(r.conn, reusable)
	}
	*r = Response{}
	responsePool.Put(r)
	return err
}

// readAll reads the whole body; a body over limit bytes is
// ErrAnswerTooLarge.
func (r *Response) readAll(limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.ContentLength >= 0 {
		out := make([]byte, r.ContentLength)
		n, err := io.ReadFull(r.Body, out)
		return out[:n], err
	}
	var b bytes.Buffer
	_, err := b.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err == nil && int64(b.Len()) > limit {
		return nil, tooLarge(limit)
	}
	return b.Bytes(), err
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w of %d bytes", ErrAnswerTooLarge, limit)
}

// fastBody notes when fasthttp's body stream reached its end.
type fastBody struct {
	r   io.Reader
	eof bool
}

func (b *fastBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}
