package health

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// stateEvery is how many probe intervals pass between two state probes of
// a node whose mode is known: a node changes between archive and full only
// when it is set up again.
const stateEvery = 60

// stateProbes remembers when each node's state was last probed.
type stateProbes struct {
	mu    sync.Mutex // mu protects asked
	asked map[*upstream.Node]time.Time
}

// StateProbeBlock is the block the state probe asks about, below a node's
// head by twice its state window: inside an archive node's state, outside
// a full node's even while a few blocks arrive. ok is false while the
// chain is too short to tell.
func StateProbeBlock(head, window uint64) (block uint64, ok bool) {
	if head <= 2*window {
		return 0, false
	}
	return head - 2*window, true
}

// probeState learns whether n keeps old state, when its mode is not
// configured: it asks the balance of the zero address at StateProbeBlock.
// One account read is the cheapest state access there is; an archive node
// answers it, a full node answers that the state is gone.
func (m *Monitor) probeState(ctx context.Context, n *upstream.Node) {
	if !n.Detected() || !n.HasHead() {
		return
	}
	block, ok := StateProbeBlock(n.Head(), n.StateWindowBlocks())
	if !ok {
		return
	}
	sp := &m.state
	now := time.Now()
	sp.mu.Lock()
	if n.StateMode() != upstream.StateUnknown && now.Sub(sp.asked[n]) < stateEvery*m.interval(n) {
		sp.mu.Unlock()
		return
	}
	if sp.asked == nil {
		sp.asked = map[*upstream.Node]time.Time{}
	}
	sp.asked[n] = now
	sp.mu.Unlock()

	body, err := n.Call(ctx, stateReq(block))
	if err != nil {
		return
	}
	var mode upstream.StateMode
	if e := jsonrpc.ErrorOf(body); e != nil {
		if !upstream.StateMissing(e.Message) {
			return
		}
		mode = upstream.StateFull
	} else {
		var r struct {
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal(body, &r) != nil || len(r.Result) == 0 {
			return
		}
		mode = upstream.StateArchive
	}
	if n.LearnState(mode) {
		m.log.Info("node state detected", "node", n.Name, "state", mode.String(), "probe_block", block)
	}
}

func stateReq(block uint64) []byte {
	b := []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["0x0000000000000000000000000000000000000000","0x`)
	b = strconv.AppendUint(b, block, 16)
	return append(b, `"]}`...)
}

// forgetState drops n's probe time (a node removed from the network).
func (m *Monitor) forgetState(n *upstream.Node) {
	m.state.mu.Lock()
	delete(m.state.asked, n)
	m.state.mu.Unlock()
}
