package upstream

import "time"

// UsesFastHTTP reports whether the pooled HTTP/1.1 client serves n.
func UsesFastHTTP(n *Node) bool { return n.fast != nil }

// RawAnswerTime returns n's answer-time estimate as last stored, without
// the fade since its last sample (no clock involved).
func RawAnswerTime(n *Node) (time.Duration, bool) {
	w := n.answers.v.Load()
	est, _ := unpack(w)
	return time.Duration(est), w != 0
}
