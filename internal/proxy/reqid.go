package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// requestIDs makes unique request ids cheaply: a random per-process prefix
// and a counter.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (r *requestIDs) next() string { return string(r.appendNext(nil)) }

// appendNext appends the next id to b.
func (r *requestIDs) appendNext(b []byte) []byte {
	return strconv.AppendUint(append(b, r.prefix...), r.n.Add(1), 36)
}

// validRequestID accepts a client's X-Request-ID when it is short and plain.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
