package health

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
	"github.com/evmgate/evmgate/internal/upstream"
)

var (
	chainIDReq = []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`)
	probeReq   = []byte(`[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]},` +
		`{"jsonrpc":"2.0","id":2,"method":"eth_getBlockByNumber","params":["latest",false]},` +
		`{"jsonrpc":"2.0","id":3,"method":"eth_syncing","params":[]}]`)
)

// probe runs one probe of n and updates its state. Its calls never wait
// behind the node's calls for a connection (upstream.AsProbe).
func (m *Monitor) probe(ctx context.Context, n *upstream.Node) {
	ctx, cancel := context.WithTimeout(upstream.AsProbe(ctx), m.set.Timeout)
	defer cancel()
	if err := m.check(ctx, n); err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return // shutting down
		}
		if m.events != nil {
			m.events.ProbeFailed(n, err)
		}
		var ue *upstream.Error
		if errors.As(err, &ue) && ue.Kind == upstream.KindRateLimited {
			return // no verdict: the node cools down (upstream.Node.CoolDown), it is not down
		}
		fails := n.Failed()
		switch {
		case isAttestation(err):
			// Not a passing fault: the node is never served until its
			// certificate passes, which the next probe checks again.
			m.setState(n, upstream.Unattested, reasonOf(n, err))
		case errors.As(err, &ue) && ue.Kind == upstream.KindDial:
			// A refused connection: the node is not there (it may be
			// restarting, perhaps on another chain). Down at once, as a
			// call's refused connection makes it; it comes back through a
			// probe that checks its chain id again.
			if st := n.State(); st != upstream.Down && st != upstream.WrongChain {
				m.setState(n, upstream.Down, reasonOf(n, err))
			}
		case fails >= m.set.DownAfter || n.State() == upstream.Unknown || n.State() == upstream.Unattested:
			m.setState(n, upstream.Down, reasonOf(n, err))
		}
		return
	}
	n.Succeeded()
}

// reasonOf is err as the reason of n's state: without n's name in front,
// which the node's /status entry and log line already carry.
func reasonOf(n *upstream.Node, err error) string {
	return strings.TrimPrefix(err.Error(), n.Name+": ")
}

// isAttestation reports whether err is a failed attestation of the node.
func isAttestation(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.Kind == upstream.KindAttestation
}

// chainEvery is how many probe intervals pass between two checks of a
// serving node's chain id: a node restarted on another chain between two
// probes, that no call met while it was away, is found within this.
const chainEvery = 15

func (m *Monitor) check(ctx context.Context, n *upstream.Node) error {
	// A node's chain id is asked while it is down, on another chain or
	// unattested, when it is unknown, after a failure (the node may have
	// restarted), and every chainEvery intervals.
	if st := n.State(); st == upstream.Down || st == upstream.WrongChain || st == upstream.Unattested || n.ChainID() == 0 ||
		n.Failing() || m.chainDue(n) {
		if err := m.checkChain(ctx, n); err != nil {
			return err
		}
		if n.State() == upstream.WrongChain {
			return nil
		}
	}
	start := time.Now()
	body, err := n.Call(ctx, probeReq)
	if err != nil {
		return err
	}
	lat := time.Since(start)
	head, blockTime, syncing, err := parseProbe(body)
	if err != nil {
		return fmt.Errorf("reading probe answer: %w", err)
	}
	if m.set.UseLoadTracker && n.PrometheusURL != "" {
		if l, err := readLoad(ctx, n.PrometheusURL, m.set.LoadPeriod); err == nil {
			n.SetLoad(l)
		} else if m.events != nil {
			m.events.ProbeFailed(n, fmt.Errorf("reading host load: %w", err))
		}
	}
	n.ObserveHead(head, blockTime, lat)
	m.probeFinalized(ctx, n)
	m.probeState(ctx, n)
	switch {
	case syncing:
		m.setState(n, upstream.Syncing, "eth_syncing reports a sync in progress")
	case m.set.MaxBlockAge > 0 && time.Since(time.Unix(blockTime, 0)) > m.set.MaxBlockAge:
		m.setState(n, upstream.Stale, fmt.Sprintf("newest block is older than max_block_age %s", m.set.MaxBlockAge))
	default:
		m.setState(n, upstream.Up, "probe answered")
	}
	return nil
}

// checkChain asks the node's chain id and compares it with the network's.
func (m *Monitor) checkChain(ctx context.Context, n *upstream.Node) error {
	body, err := n.Call(ctx, chainIDReq)
	if err != nil {
		return err
	}
	id, err := quantityResult(body)
	if err != nil {
		return fmt.Errorf("reading eth_chainId: %w", err)
	}
	n.SetChainID(id)
	m.mu.Lock()
	m.chainIDs[n] = id
	m.chainAsked[n] = time.Now()
	want := m.expectedChainLocked()
	m.chain.Store(want)
	ids := make(map[*upstream.Node]uint64, len(m.chainIDs))
	for nd, v := range m.chainIDs {
		ids[nd] = v
	}
	m.mu.Unlock()
	// The network's id may have changed with this answer: judge every node
	// that reported one again, not only this one.
	for nd, v := range ids {
		switch {
		case want != 0 && v != want && nd.State() != upstream.WrongChain:
			m.setState(nd, upstream.WrongChain, fmt.Sprintf("eth_chainId is %d, the network's is %d", v, want))
		case v == want && nd.State() == upstream.WrongChain:
			m.setState(nd, upstream.Unknown, "chain id matches the network again")
			if nd != n {
				m.ProbeSoon(nd)
			}
		}
	}
	return nil
}

// chainDue reports whether n's chain id was last asked chainEvery
// intervals ago or more.
func (m *Monitor) chainDue(n *upstream.Node) bool {
	m.mu.Lock()
	at, ok := m.chainAsked[n]
	m.mu.Unlock()
	return !ok || time.Since(at) >= chainEvery*m.interval(n)
}

// expectedChainLocked is the configured chain id, else the id most nodes
// report (ties: the lower id, for determinism).
func (m *Monitor) expectedChainLocked() uint64 {
	if m.set.ChainID != 0 {
		return m.set.ChainID
	}
	count := map[uint64]int{}
	for _, id := range m.chainIDs {
		count[id]++
	}
	var best uint64
	for id, c := range count {
		if c > count[best] || c == count[best] && id < best {
			best = id
		}
	}
	return best
}

// ExpectedChainID returns the chain id the network's nodes must report
// (0 while none is known): ChainID's, kept at every change of the ids.
func (m *Monitor) ExpectedChainID() uint64 { return m.chain.Load() }

// ChainID returns the chain the network serves: its chain_id, else the id
// most of its nodes reported. ok is false while no node has reported one
// (at the start, or after every node was replaced). It takes no lock: the
// response cache keys every call by it.
func (m *Monitor) ChainID() (uint64, bool) {
	id := m.chain.Load()
	return id, id != 0
}

func quantityResult(body []byte) (uint64, error) {
	if e := jsonrpc.ErrorOf(body); e != nil {
		return 0, e
	}
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, err
	}
	v, ok := jsonrpc.ParseQuantity(r.Result)
	if !ok {
		return 0, fmt.Errorf("result %s is not a hex quantity", r.Result)
	}
	return v, nil
}

func parseProbe(body []byte) (head uint64, blockTime int64, syncing bool, err error) {
	els, err := jsonrpc.SplitBatch(body)
	if err != nil || len(els) != 3 {
		return 0, 0, false, errors.New("the node did not answer the probe batch")
	}
	sawHead := false
	for _, el := range els {
		if el.Err != nil {
			return 0, 0, false, el.Err
		}
		var r struct {
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(el.Raw, &r); err != nil {
			return 0, 0, false, err
		}
		switch string(el.ID) {
		case "1":
			h, ok := jsonrpc.ParseQuantity(r.Result)
			if !ok {
				return 0, 0, false, fmt.Errorf("eth_blockNumber answered %s", r.Result)
			}
			head, sawHead = h, true
		case "2":
			var b struct {
				Timestamp json.RawMessage `json:"timestamp"`
			}
			if json.Unmarshal(r.Result, &b) == nil {
				t, _ := jsonrpc.ParseQuantity(b.Timestamp)
				blockTime = int64(t)
			}
		case "3":
			syncing = !bytes.Equal(bytes.TrimSpace(r.Result), []byte("false"))
		}
	}
	if !sawHead {
		return 0, 0, false, errors.New("eth_blockNumber is missing from the answer")
	}
	return head, blockTime, syncing, nil
}

var loadClient = &http.Client{Timeout: 5 * time.Second}

// readLoad reads node_load1, node_load5 or node_load15 from a node exporter.
func readLoad(ctx context.Context, url string, period int) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := loadClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	want := "node_load" + strconv.Itoa(period) + " "
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, want) {
			return strconv.ParseFloat(strings.TrimSpace(line[len(want):]), 64)
		}
	}
	return 0, fmt.Errorf("%sis not in the exporter's answer", want)
}

// ChainID asks a node for its eth_chainId, as a probe.
func ChainID(ctx context.Context, n *upstream.Node) (uint64, error) {
	body, err := n.Call(upstream.AsProbe(ctx), chainIDReq)
	if err != nil {
		return 0, err
	}
	return quantityResult(body)
}
