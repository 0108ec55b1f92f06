package health

import (
	"errors"

	"github.com/evmgate/evmgate/internal/upstream"
)

// Observe feeds a request's outcome on n into its health: err nil is a
// success. A refused connection marks the node down at once; other node
// faults do after down_after in a row. A client cancel counts for nothing.
func (m *Monitor) Observe(n *upstream.Node, err error) {
	if err == nil {
		if n.Failures() != 0 {
			n.Succeeded()
		}
		return
	}
	var ue *upstream.Error
	if !errors.As(err, &ue) || !ue.NodeFault() || ue.Kind == upstream.KindUnavailable {
		return
	}
	fails := n.Failed()
	if ue.Kind == upstream.KindAttestation {
		if n.State() != upstream.Unattested {
			m.setState(n, upstream.Unattested, err.Error())
			m.ProbeSoon(n)
		}
		return
	}
	if st := n.State(); st == upstream.Down || st == upstream.WrongChain || st == upstream.Unattested {
		return
	}
	if ue.Kind == upstream.KindDial || fails >= m.set.DownAfter {
		m.setState(n, upstream.Down, "requests failing: "+err.Error())
		m.ProbeSoon(n)
	}
}
