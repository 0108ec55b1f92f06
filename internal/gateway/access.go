package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/evmgate/evmgate/internal/access"
	"github.com/evmgate/evmgate/internal/config"
	"github.com/evmgate/evmgate/internal/registry"
	"github.com/redis/go-redis/v9"
)

// redisLimitTimeout bounds one shared rate-limit check (or a node's
// lease): a call must not wait long on an unreachable Redis.
const redisLimitTimeout = 500 * time.Millisecond

// buildRedis connects to admin.redis_url (redis_url), when set: the client
// of the shared rate limits (clients' and nodes') and of runtime keys.
func (g *Gateway) buildRedis() error {
	if g.cfg.Admin.RedisURL == "" {
		return nil
	}
	o, err := redis.ParseURL(g.cfg.Admin.RedisURL)
	if err != nil {
		return fmt.Errorf("admin.redis_url: %w", err)
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = redisLimitTimeout, redisLimitTimeout, redisLimitTimeout
	o.MaxRetries = -1 // a retry doubles the wait of every call while Redis is down
	g.redis = redis.NewClient(o)
	return nil
}

// buildAccess sets up the client access checks of the JSON-RPC listener.
func (g *Gateway) buildAccess() error {
	cfg := g.cfg
	opts := access.Options{Prefix: cfg.Admin.RedisPrefix, Networks: g.Networks}
	if g.redis != nil {
		opts.Redis = g.redis
		opts.Store = access.NewRedisStore(g.redis, cfg.Admin.RedisPrefix)
	} else if cfg.Admin.StateFile != "" {
		opts.Store = access.NewFileStore(cfg.Admin.StateFile + ".keys")
	}
	a, err := access.New(cfg.Access, opts, g.log, g.reg)
	if err != nil {
		return err
	}
	g.access = a
	g.handler.SetAccess(a)
	return nil
}

// startAccess reads the runtime keys and logs, once, whether the gateway
// is open.
func (g *Gateway) startAccess(ctx context.Context) error {
	if g.access == nil {
		return nil
	}
	if err := g.access.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	if g.access.Open() {
		g.log.Info("client access is open: no API key or token is required (configure access.keys or access.jwt to require one)")
	} else {
		g.log.Info("client access requires an API key or a token")
	}
	return nil
}

// logAccessChange warns, once per change, when a reload to cfg made an
// open gateway require a key or a keyed gateway open: either changes who
// may call, and the reload's own line does not say so.
func (g *Gateway) logAccessChange(wasOpen bool, cfg *config.Config) {
	a := cfg.Access
	switch open := g.access.Open(); {
	case wasOpen && !open:
		why := "keys made through the admin API exist"
		switch {
		case a.RequireKey != nil && *a.RequireKey:
			why = "access.require_key is true"
		case len(a.Keys) > 0:
			why = "access.keys lists keys"
		case a.JWT.Enabled():
			why = "access.jwt is set"
		}
		g.log.Warn("client access now requires an API key or a token: the reloaded configuration changed it (" + why +
			"), so calls without a key get 401")
	case !wasOpen && open:
		why := "access has no keys and no jwt"
		if a.RequireKey != nil && !*a.RequireKey {
			why = "access.require_key is false"
		}
		g.log.Warn("client access is now open: no API key or token is required: the reloaded configuration changed it (" + why +
			"), so anyone who reaches the listener may call")
	}
}

func (g *Gateway) closeAccess() {
	if g.access != nil {
		g.access.Close()
	}
	if g.limits != nil {
		g.limits.Close()
	}
	if g.redis != nil {
		_ = g.redis.Close()
	}
}

// adminRoutes are the admin API routes served beside the node routes.
func (g *Gateway) adminRoutes() []registry.Route {
	if g.access == nil {
		return nil
	}
	h := g.access.Handler()
	return []registry.Route{{Pattern: "/admin/keys", Handler: h}, {Pattern: "/admin/keys/", Handler: h}}
}

// Access returns the client access checks (nil before New).
func (g *Gateway) Access() *access.Access { return g.access }
