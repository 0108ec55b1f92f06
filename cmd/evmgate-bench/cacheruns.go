package main

import (
	"fmt"
	"slices"
	"time"
)

// target of one run of the scenario.
type scenarioTarget struct {
	label    string
	urls     []string
	proxyPID int
	nodePID  int
	nodes    []string // where the workload's method is counted
	metrics  string   // /metrics URL whose hedges are read ("": none)
}

func (s *cacheSetup) gw(g *gwProc, nodes []string, nodePID int) scenarioTarget {
	return scenarioTarget{label: g.label, urls: []string{g.url}, proxyPID: g.proc.pid(), nodePID: nodePID, nodes: nodes, metrics: g.metrics}
}

// runAll runs the hit, dedup and hedge parts in turn.
func (s *cacheSetup) runAll(emit func(Result) error) error {
	direct := scenarioTarget{label: "direct", urls: s.nodes, nodePID: s.nodesPID, nodes: s.nodes}
	hit := []scenarioTarget{direct, s.gw(&s.off, s.nodes, s.nodesPID), s.gw(&s.on, s.nodes, s.nodesPID)}
	for _, w := range []string{"block", "block100k"} {
		for round := range s.flags.rounds {
			order := slices.Clone(hit)
			if round%2 == 1 {
				slices.Reverse(order)
			}
			for _, t := range order {
				if err := s.one("hit", w, "eth_getBlockByNumber", s.flags.clients, t, emit); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range s.flags.dedupClients {
		for _, t := range []scenarioTarget{s.gw(&s.off, s.nodes, s.nodesPID), s.gw(&s.on, s.nodes, s.nodesPID)} {
			if err := s.one("dedup", "balance", "eth_getBalance", c, t, emit); err != nil {
				return err
			}
		}
	}
	for _, g := range []*gwProc{&s.hedgeOff, &s.hedgeOn} {
		if err := s.one("hedge", "balance", "eth_getBalance", s.flags.clients, s.gw(g, s.hedge, s.hedgePID), emit); err != nil {
			return err
		}
	}
	return nil
}

// one runs one closed-loop measurement of workload w on t with c clients,
// counting method on t's nodes around it.
func (s *cacheSetup) one(part, w, method string, c int, t scenarioTarget, emit func(Result) error) error {
	var targets []target
	for _, u := range t.urls {
		tg, err := parseTarget(u)
		if err != nil {
			return err
		}
		targets = append(targets, tg)
	}
	cfg := loadConfig{
		Label: t.label, Targets: targets, Workload: mustWorkload(w), Clients: c,
		Warmup: s.flags.warmup, Duration: s.flags.duration, Timeout: 10 * time.Second,
		ProxyPID: t.proxyPID, NodePID: t.nodePID,
	}
	before, err := nodeCalls(t.nodes, method)
	if err != nil {
		return fmt.Errorf("counting node calls: %w", err)
	}
	var hedgesBefore map[string]float64
	if t.metrics != "" {
		if hedgesBefore, err = hedgeCounts(t.metrics); err != nil {
			return fmt.Errorf("reading hedges: %w", err)
		}
	}
	r, err := run(cfg)
	if err != nil {
		return err
	}
	after, err := nodeCalls(t.nodes, method)
	if err != nil {
		return fmt.Errorf("counting node calls: %w", err)
	}
	r.Scenario = part
	if r.TotalRequests > 0 {
		per := float64(after-before) / float64(r.TotalRequests)
		r.UpstreamPerCall = &per
	}
	if t.metrics != "" {
		h, err := hedgeCounts(t.metrics)
		if err != nil {
			return fmt.Errorf("reading hedges: %w", err)
		}
		r.Hedges = map[string]float64{"sent": 0}
		for k, v := range h {
			r.Hedges[k] = v - hedgesBefore[k]
			r.Hedges["sent"] += v - hedgesBefore[k]
		}
	}
	return emit(r)
}
