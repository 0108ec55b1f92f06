package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// Add admits n (n.Network, n.URI, optional n.Tier, default local, and
// n.Name) and adds it to its network: the change is stored (Redis or the
// state file), then applied. With Redis, every replica applies it within
// about a second. A configured node removed earlier comes back with its
// configured tier and name. The errors match ErrUnknownNetwork, ErrInvalid,
// ErrRejected, ErrDuplicate, ErrUnavailable (nothing was changed) or
// ErrNotApplied (stored, but Apply failed on this replica).
func (r *Registry) Add(ctx context.Context, n Node) (Node, error) {
	n.Source = SourceAdmin
	n.Tier = cmp.Or(n.Tier, TierLocal)
	if err := r.checkAdd(n); err != nil {
		r.metrics.change("add", err)
		return Node{}, err
	}
	err := r.add(ctx, n)
	r.metrics.change("add", err)
	if err != nil && !errors.Is(err, ErrNotApplied) {
		return Node{}, err
	}
	r.log.Info("node added", withErr(err, "network", n.Network, "node", nodeurl.Redact(n.URI), "tier", n.Tier)...)
	if cur, ok := r.find(n.Network, n.URI); ok {
		n = cur
	}
	return n, err
}

func (r *Registry) checkAdd(n Node) error {
	if !slices.Contains(r.catalog().networks, n.Network) {
		return r.unknown(n.Network)
	}
	if err := checkURI(n.URI); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := cmp.Or(checkTier(n.Tier), checkName(n.Name)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if ps := n.RateLimit.Problems(); len(ps) > 0 {
		return fmt.Errorf("%w: rate_limit.%s %s", ErrInvalid, ps[0].Key, ps[0].Message)
	}
	if n.RateLimit.Shared && r.rs == nil {
		return fmt.Errorf("%w: rate_limit.shared needs Redis, where replicas keep the limit they share: start the gateway with redis_url, or leave shared out", ErrInvalid)
	}
	return nil
}

func (r *Registry) add(ctx context.Context, n Node) error {
	if err := r.refresh(ctx); err != nil {
		return err
	}
	if _, ok := r.find(n.Network, n.URI); ok {
		return r.duplicate(n)
	}
	actx, cancel := context.WithTimeout(ctx, admitTimeout)
	err := r.applier.Admit(actx, n)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	configured := slices.ContainsFunc(r.catalog().seed[n.Network], func(c Node) bool { return nodeurl.Same(c.URI, n.URI) })
	ok, err := r.store.add(ctx, n.Network, n.URI, added{Tier: n.Tier, Name: n.Name, RateLimit: n.RateLimit}, configured)
	if err != nil {
		return fmt.Errorf("%w (%s): %w", ErrUnavailable, r.store.describe(), err)
	}
	if !ok {
		return r.duplicate(n)
	}
	return r.settle(ctx, n.Network)
}

// Remove removes network's node uri (configured or added) and returns it.
// The errors match ErrUnknownNetwork, ErrInvalid, ErrNotFound,
// ErrUnavailable (nothing was changed) or ErrNotApplied.
func (r *Registry) Remove(ctx context.Context, network, uri string) (Node, error) {
	n, err := r.remove(ctx, network, uri)
	r.metrics.change("remove", err)
	if err != nil && !errors.Is(err, ErrNotApplied) {
		return Node{}, err
	}
	r.log.Info("node removed", withErr(err, "network", network, "node", nodeurl.Redact(uri))...)
	return n, err
}

func (r *Registry) remove(ctx context.Context, network, uri string) (Node, error) {
	if !slices.Contains(r.catalog().networks, network) {
		return Node{}, r.unknown(network)
	}
	if uri == "" {
		return Node{}, fmt.Errorf("%w: uri is required", ErrInvalid)
	}
	if err := r.refresh(ctx); err != nil {
		return Node{}, err
	}
	n, ok := r.find(network, uri)
	if !ok {
		return Node{}, fmt.Errorf("%w: network %q has no node %s", ErrNotFound, network, nodeurl.Redact(uri))
	}
	if err := r.store.remove(ctx, network, n.URI); err != nil { // the node's own URL: the client's may differ by a slash
		return Node{}, fmt.Errorf("%w (%s): %w", ErrUnavailable, r.store.describe(), err)
	}
	return n, r.settle(ctx, network)
}

// withErr is a log line's attributes, with err added only when it is set:
// a change that was applied logs no err=<nil>.
func withErr(err error, attrs ...any) []any {
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	return attrs
}

// refresh re-reads Redis before a change, so that duplicates and missing
// nodes are judged on the shared state.
func (r *Registry) refresh(ctx context.Context) error {
	if r.rs == nil {
		return nil
	}
	return r.sync(ctx)
}

// settle applies a stored change and reports whether network's Apply
// failed. A store that fails now is not an error: the change is stored,
// and the next resync applies it.
func (r *Registry) settle(ctx context.Context, network string) error {
	if err := r.sync(ctx); err != nil {
		r.log.Warn("change stored; applying it at the next resync", "network", network, "err", err)
		return nil
	}
	r.syncMu.Lock()
	err := r.applyErr[network]
	r.syncMu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotApplied, err)
	}
	return nil
}

func (r *Registry) find(network, uri string) (Node, bool) {
	nodes, _ := r.Nodes(network)
	i := slices.IndexFunc(nodes, func(n Node) bool { return nodeurl.Same(n.URI, uri) })
	if i < 0 {
		return Node{}, false
	}
	return nodes[i], true
}

func (r *Registry) duplicate(n Node) error {
	return fmt.Errorf("%w: network %q already has node %s", ErrDuplicate, n.Network, nodeurl.Redact(n.URI))
}
