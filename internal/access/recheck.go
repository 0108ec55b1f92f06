package access

import (
	"time"

	"github.com/evmgate/evmgate/internal/jsonrpc"
)

// Recheck checks c again, for a connection that outlives the request that
// identified it (a client WebSocket): each of its messages is checked as
// an HTTP request would be now. It returns c while nothing changed: one
// atomic load, and the clock for a key or token that expires. When the
// configuration or the runtime keys changed since c was identified, it
// returns c as the current keys describe it (their settings may have
// changed too). It refuses, as HTTP would, a key removed (naming it: the
// connection knows the name), revoked or expired, a token past its exp or
// that the current configuration does not verify, a key no longer allowed
// on network, and a caller without a key where one is now required.
func (a *Access) Recheck(c *Caller, network string) (*Caller, *jsonrpc.Error) {
	s := a.snap.Load()
	if c != nil && c.gen == s.gen {
		if e := a.expired(c); e != nil {
			return nil, e
		}
		return c, nil
	}
	next, e := a.recheck(s, c, network)
	if e != nil {
		a.m.refused(e.Code)
	}
	return next, e
}

// expired refuses c's key or token once past its expiry.
func (a *Access) expired(c *Caller) *jsonrpc.Error {
	k := c.Key
	if k == nil || k.expires.IsZero() || !k.Expired(a.now()) {
		return nil
	}
	a.m.refused(jsonrpc.CodeUnauthorized)
	if c.token != "" {
		return errTokenExpired
	}
	return errExpired(k.Name, k.expires)
}

// recheck checks c under s, a snapshot newer than c's.
func (a *Access) recheck(s *snapshot, c *Caller, network string) (*Caller, *jsonrpc.Error) {
	if c == nil || c.Key == nil {
		if s.require {
			return nil, errMissing
		}
		if c == nil || c == anonymous {
			return c, nil
		}
		return &Caller{ip: c.ip, gen: s.gen}, nil
	}
	var k *Key
	var e *jsonrpc.Error
	switch {
	case c.token != "" && s.jwt != nil:
		k, e = s.jwt.verify(c.token)
	case c.token != "":
		e = jsonrpc.NewError(jsonrpc.CodeUnauthorized, errBadToken+"tokens are no longer accepted (access.jwt)")
	default:
		k, e = s.current(c.Key, a.now())
	}
	if e == nil && !k.AllowsNetwork(network) {
		e = errNetwork(k.Name, network)
	}
	if e != nil {
		return nil, e
	}
	return &Caller{Key: k, ip: c.ip, gen: s.gen, token: c.token}, nil
}

// current is old, a key of an earlier snapshot, as s holds it.
func (s *snapshot) current(old *Key, now time.Time) (*Key, *jsonrpc.Error) {
	k := s.keys[old.hash]
	switch {
	case k != nil && k.Expired(now):
		return nil, errExpired(k.Name, k.expires)
	case k != nil:
		return k, nil
	}
	if name, ok := s.revoked[old.hash]; ok {
		return nil, errRevoked(name)
	}
	return nil, errKeyGone(old.Name)
}
