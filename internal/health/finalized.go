package health

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

// finalizedReq asks for the finalized block's header (execution-apis: the
// "finalized" block tag, set by the consensus client's forkchoice).
var finalizedReq = []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["finalized",false]}`)

// finalizedEvery is how many probe intervals pass between two reads of a
// node's finalized block: it moves once per epoch on mainnet, far slower
// than the head.
const finalizedEvery = 4

// finality tracks each node's finalized block and the network's. The zero
// value is ready.
type finality struct {
	mu     sync.Mutex // mu protects byNode and asked, and orders the copies in nodes
	byNode map[*upstream.Node]uint64
	asked  map[*upstream.Node]time.Time

	network atomic.Uint64 // the network's finalized block + 1; 0 when unknown
	// nodes is a copy of byNode for readers on the request path
	// (NodeFinalized, at each answer the cache may keep): no lock there.
	nodes atomic.Pointer[map[*upstream.Node]uint64]
}

// Finalized returns the network's finalized block: the lower median of the
// nodes' finalized blocks, so that no single node can move it forward. ok is
// false while no node has told its finalized block (or the chain has none).
func (m *Monitor) Finalized() (uint64, bool) {
	v := m.fin.network.Load()
	if v == 0 {
		return 0, false
	}
	return v - 1, true
}

// NodeFinalized returns the finalized block n last reported.
func (m *Monitor) NodeFinalized(n *upstream.Node) (uint64, bool) {
	nodes := m.fin.nodes.Load()
	if nodes == nil {
		return 0, false
	}
	v, ok := (*nodes)[n]
	return v, ok
}

// probeFinalized reads n's finalized block when it is due. A node that does
// not know the tag (a chain without finality) simply has none; the probe
// does not fail for it.
func (m *Monitor) probeFinalized(ctx context.Context, n *upstream.Node) {
	f := &m.fin
	now := time.Now()
	f.mu.Lock()
	if now.Sub(f.asked[n]) < finalizedEvery*m.interval(n) {
		f.mu.Unlock()
		return
	}
	if f.asked == nil {
		f.asked = map[*upstream.Node]time.Time{}
	}
	f.asked[n] = now
	f.mu.Unlock()

	body, err := n.Call(ctx, finalizedReq)
	if err != nil {
		return
	}
	num, err := blockNumberResult(body)
	if err != nil {
		return
	}
	f.set(n, num)
}

// set records n's finalized block and recomputes the network's.
func (f *finality) set(n *upstream.Node, num uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byNode == nil {
		f.byNode = map[*upstream.Node]uint64{}
	}
	if v, ok := f.byNode[n]; ok && v == num {
		return // nothing to publish again
	}
	f.byNode[n] = num
	f.publishLocked()
}

// forget drops a node that left the network.
func (f *finality) forget(n *upstream.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byNode, n)
	delete(f.asked, n)
	f.publishLocked()
}

func (f *finality) publishLocked() {
	nodes := maps.Clone(f.byNode)
	f.nodes.Store(&nodes)
	if len(f.byNode) == 0 {
		f.network.Store(0)
		return
	}
	vs := make([]uint64, 0, len(f.byNode))
	for _, v := range f.byNode {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	f.network.Store(vs[(len(vs)-1)/2] + 1)
}

// blockNumberResult reads the number of a block answer.
func blockNumberResult(body []byte) (uint64, error) {
	if e := jsonrpc.ErrorOf(body); e != nil {
		return 0, e
	}
	var r struct {
		Result *struct {
			Number json.RawMessage `json:"number"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, err
	}
	if r.Result == nil {
		return 0, errors.New("no finalized block")
	}
	v, ok := jsonrpc.ParseQuantity(r.Result.Number)
	if !ok {
		return 0, errors.New("finalized block has no number")
	}
	return v, nil
}
