package health

import (
	"errors"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Observe feeds a request's outcome on n into its health: err nil is a
// success. A refused connection marks the node down at once; other errors
// that count (see Counts) do after down_after in a row.
func (m *Monitor) Observe(n *upstream.Node, err error) {
	if err == nil {
		if n.Failures() != 0 {
			n.Succeeded()
		}
		return
	}
	if !Counts(err) {
		return
	}
	fails := n.Failed()
	var ue *upstream.Error
	errors.As(err, &ue) // Counts holds only for an *upstream.Error
	if ue.Kind == upstream.KindAttestation {
		if n.State() != upstream.Unattested {
			m.setState(n, upstream.Unattested, reasonOf(n, err))
			m.ProbeSoon(n)
		}
		return
	}
	if st := n.State(); st == upstream.Down || st == upstream.WrongChain || st == upstream.Unattested {
		return
	}
	if ue.Kind == upstream.KindDial || fails >= m.set.DownAfter {
		m.setState(n, upstream.Down, "requests failing: "+reasonOf(n, err))
		m.ProbeSoon(n)
	}
}

// Counts reports whether a try's error counts against its node: a broken
// connection, a timeout, HTTP 5xx, an answer that is not JSON-RPC. A
// client that went away, an answer over the gateway's limit, an HTTP 4xx
// (429 included: the node cools down instead) and a node error meaning
// "not on this node now" do not.
func Counts(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.NodeFault() && ue.Kind != upstream.KindUnavailable
}
