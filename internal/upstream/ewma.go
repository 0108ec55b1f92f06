package upstream

import (
	"math"
	"sync/atomic"
	"time"
)

// LatencyDecay is the time constant of a node's answer-time estimate
// (PeakEWMA): after a peak, the estimate has moved 63% of the way back to
// the usual answer time within LatencyDecay, 95% within three. One second
// forgets a single slow answer (a heavy eth_getLogs, a pause on the node)
// within a few seconds, so a node that recovers gets its share back as
// quickly, while still averaging over many calls at any real load.
const LatencyDecay = time.Second

// AnswerWeight is the least weight of one answer below the estimate. The
// time weight alone (1 - exp(-Δt/τ)) is tiny when answers come a
// millisecond apart, so after a common peak (a pause on the gateway's
// host delays every answer at once) the estimates of fast and slow nodes
// would stay at the peak, equal, for a second or more. With this floor a
// peak is forgotten within a few dozen answers, or within a few τ, which
// ever comes first.
const AnswerWeight = 0.1

// FailurePenalty is the least answer time a failed try counts as (refused
// connection, timeout, HTTP error): longer than any healthy node's usual
// first byte, so a failing node is avoided until its estimate has decayed
// (a few LatencyDecay), then tried again.
const FailurePenalty = time.Second

// RateWindow is the time constant of a node's recent call count (Rate):
// the count covers about the last RateWindow of calls.
const RateWindow = 10 * time.Second

// Both estimators keep a float32 value and the time it was last updated in
// one 64-bit word: a reader sees both from one atomic load, a writer
// replaces both with one compare-and-swap. No lock, no allocation.
//
// Times are monotonic nanoseconds; the stored stamp is in ticks of 2^20 ns
// (about 1 ms) in 32 bits. Gaps are read as signed 32-bit tick counts, so
// a gap of more than about 26 days between two updates counts as none:
// the old value is kept instead of decayed (probes update a node every
// poll interval, so this does not happen while the gateway runs).
const tickShift = 20

func pack(v float64, now int64) uint64 {
	return uint64(math.Float32bits(float32(v)))<<32 | uint64(uint32(now>>tickShift))
}

func unpack(w uint64) (v float64, stamp uint32) {
	return float64(math.Float32frombits(uint32(w >> 32))), uint32(w)
}

// fade is the factor by which a value decays, with time constant tau,
// from stamp to now; 1 when now is not after stamp (a concurrent update
// with a later clock reading won the race).
func fade(stamp uint32, now int64, tau time.Duration) float64 {
	dt := int32(uint32(now>>tickShift) - stamp)
	if dt <= 0 {
		return 1
	}
	return math.Exp(-float64(int64(dt)<<tickShift) / float64(tau))
}

// later keeps an update's stamp from moving back: an update that lost the
// race to a later clock reading is applied at that reading's time. old is
// the word being replaced (0: never set, any stamp goes).
func later(now int64, old uint64) int64 {
	if stamp := uint32(old); old != 0 && int32(uint32(now>>tickShift)-stamp) < 0 {
		return int64(stamp) << tickShift
	}
	return now
}

// PeakEWMA estimates a node's answer time the way Finagle's and
// linkerd's "peak EWMA" load balancers do: a sample above the estimate
// replaces it at once (a slowing node is noticed on its first slow
// answer); a sample below moves it by the weight 1 - exp(-Δt/τ), where Δt
// is the time since the previous sample and τ is LatencyDecay, so it comes
// back down at the same pace at any call rate, and by at least
// AnswerWeight, so at a high call rate it comes down within a few dozen
// answers. Between samples the
// estimate as read fades towards zero with the same τ: a node that gets no
// answers in (an avoided, penalised one) looks cheaper as time passes and
// is tried again, and its next answer sets the estimate afresh.
//
// The zero value is ready: no sample yet. Methods are safe for concurrent
// use; now is monotonic nanoseconds (time is passed in for tests).
type PeakEWMA struct{ v atomic.Uint64 }

// Observe adds a sample taken at now.
func (e *PeakEWMA) Observe(now int64, sample time.Duration) {
	s := max(float64(sample), 1) // a stored 0 means "no sample yet"
	for {
		old := e.v.Load()
		next := s
		if est, stamp := unpack(old); old != 0 && s <= est {
			w := min(fade(stamp, now, LatencyDecay), 1-AnswerWeight)
			next = est*w + s*(1-w)
		}
		if e.v.CompareAndSwap(old, pack(next, later(now, old))) {
			return
		}
	}
}

// Fade multiplies the estimate by f (0 < f < 1), keeping the time of the
// last sample; it does nothing before the first sample.
func (e *PeakEWMA) Fade(f float64) {
	for {
		old := e.v.Load()
		if old == 0 {
			return
		}
		est, _ := unpack(old)
		if e.v.CompareAndSwap(old, pack(max(est*f, 1), int64(uint32(old))<<tickShift)) {
			return
		}
	}
}

// Value returns the estimate at now, faded since the last sample; ok is
// false before the first sample.
func (e *PeakEWMA) Value(now int64) (d time.Duration, ok bool) {
	w := e.v.Load()
	if w == 0 {
		return 0, false
	}
	est, stamp := unpack(w)
	return time.Duration(est * fade(stamp, now, LatencyDecay)), true
}

// Rate counts events with exponential decay (time constant RateWindow):
// its value is about the number of events in the last RateWindow, so
// value ÷ RateWindow is the recent rate per second. The zero value is
// ready; methods are safe for concurrent use.
type Rate struct{ v atomic.Uint64 }

// Add counts one event at now.
func (r *Rate) Add(now int64) {
	for {
		old := r.v.Load()
		c, stamp := unpack(old)
		if r.v.CompareAndSwap(old, pack(c*fade(stamp, now, RateWindow)+1, later(now, old))) {
			return
		}
	}
}

// Value returns the decayed count at now.
func (r *Rate) Value(now int64) float64 {
	c, stamp := unpack(r.v.Load())
	return c * fade(stamp, now, RateWindow)
}

// epoch is the origin of Now.
var epoch = time.Now()

// Now returns monotonic nanoseconds since the process started, the time
// base of PeakEWMA and Rate.
func Now() int64 { return int64(time.Since(epoch)) }
