package proxy

import (
	"errors"
	"io"
	"sync"
)

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyPooled copies r to w through a pooled buffer: the ReadFrom of the
// response writers, which io.Copy would otherwise give a buffer of its own
// per answer. It stops at the first write error (the client is gone).
// (io.CopyBuffer would need w wrapped so as not to call back into
// ReadFrom, an allocation per answer.)
func copyPooled(w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var total int64
	for {
		n, err := r.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
