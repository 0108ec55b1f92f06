package upstream

import (
	"errors"
	"time"
)

// ObserveAnswer feeds one try's outcome into the node's answer-time estimate:
// took is the time from sending the request to the answer's head (the
// first byte the caller can read), or to the failure. A failure that is
// the node's fault counts as at least FailurePenalty; a client that went
// away says nothing about the node.
func (n *Node) ObserveAnswer(took time.Duration, err error) { n.observeAnswer(Now(), took, err) }

// observeAnswer is ObserveAnswer at now (from Now).
func (n *Node) observeAnswer(now int64, took time.Duration, err error) {
	if err != nil {
		var ue *Error
		if !errors.As(err, &ue) || !ue.NodeFault() {
			return
		}
		took = max(took, FailurePenalty)
	}
	n.answers.Observe(now, took)
}

// AnswerTime returns the node's answer-time estimate now: the peak-EWMA
// of the time to the first byte of its answers (calls and probes, over
// HTTP or its WebSocket), failures counted as FailurePenalty. ok is false
// until the node has answered or failed once.
func (n *Node) AnswerTime() (d time.Duration, ok bool) { return n.answers.Value(Now()) }

// AnswerTimeAt is AnswerTime at now (from Now): a caller that reads several
// nodes, or counts the call too, reads the clock once.
func (n *Node) AnswerTimeAt(now int64) (d time.Duration, ok bool) { return n.answers.Value(now) }

// FadeAnswerTime multiplies the answer-time estimate by f (0 < f < 1): the
// balancer ages the estimate of a node it passes over, so a node avoided
// for a slow answer is tried again after some calls at any call rate.
func (n *Node) FadeAnswerTime(f float64) { n.answers.Fade(f) }

// CountCall counts one call placed on the node at now (from Now); the
// balancer calls it for each pick.
func (n *Node) CountCall(now int64) { n.calls.Add(now) }

// RecentCalls returns about how many calls were placed on the node in the
// last RateWindow (a decaying count).
func (n *Node) RecentCalls() float64 { return n.calls.Value(Now()) }
