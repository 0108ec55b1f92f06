package registry

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// Redis client timeouts: short, so that a Redis outage shows at once and
// never holds an admin request or a resync for long.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = time.Second
)

// redisStore keeps the changes in Redis (key layout in doc.go).
type redisStore struct {
	rdb      *redis.Client
	prefix   string
	addr     string
	networks func() []string // the networks whose changes are read, at the time of reading
	log      *slog.Logger
}

var _ store = (*redisStore)(nil)

func newRedisStore(cfg Config, networks func() []string, log *slog.Logger) (*redisStore, error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("parsing admin.redis_url: %w", err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = redisDialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = redisIOTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = redisIOTimeout
	}
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = 1
	// One dial per attempt: the registry retries on its own schedule. After
	// PoolSize failed dials go-redis fails fast until its background probe
	// (once a second) reaches Redis again.
	opt.DialerRetries = 1
	opt.PoolSize = 4
	opt.DisableIdentity = true
	return &redisStore{
		rdb: redis.NewClient(opt), prefix: cfg.RedisPrefix + "registry:", addr: opt.Addr,
		networks: networks, log: log,
	}, nil
}

func (s *redisStore) describe() string { return "redis " + s.addr }

func (s *redisStore) close() error { return s.rdb.Close() }

func (s *redisStore) epochKey() string               { return s.prefix + "epoch" }
func (s *redisStore) seqKey() string                 { return s.prefix + "seq" }
func (s *redisStore) channel() string                { return s.prefix + "changes" }
func (s *redisStore) addedKey(network string) string { return s.prefix + "net:" + network + ":added" }
func (s *redisStore) removedKey(network string) string {
	return s.prefix + "net:" + network + ":removed"
}

// load reads every network's changes in one transaction. When Redis holds
// no epoch, its data set is new or was lost: a new epoch is set, and the
// changes this replica knew (last) are written back first, so a Redis
// restarted without persistence does not make every replica drop the
// nodes added at run time.
func (s *redisStore) load(ctx context.Context, last *state) (*state, error) {
	st, err := s.read(ctx)
	if err != nil || st.Epoch != "" {
		return st, err
	}
	restored, err := s.restore(ctx, last)
	if err != nil {
		return nil, err
	}
	if restored && !last.empty() {
		s.log.Warn("redis held no node registry; wrote back this replica's last known runtime changes", "redis", s.addr)
	}
	return s.read(ctx)
}

func (s *redisStore) read(ctx context.Context) (*state, error) {
	var epoch *redis.StringCmd
	networks := s.networks()
	addedCmds := make([]*redis.MapStringStringCmd, len(networks))
	removedCmds := make([]*redis.MapStringStringCmd, len(networks))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		epoch = p.Get(ctx, s.epochKey())
		for i, n := range networks {
			addedCmds[i] = p.HGetAll(ctx, s.addedKey(n))
			removedCmds[i] = p.HGetAll(ctx, s.removedKey(n))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("reading node registry from redis: %w", err)
	}
	st := newState()
	st.Epoch = epoch.Val()
	for i, n := range networks {
		if err := cmp.Or(addedCmds[i].Err(), removedCmds[i].Err()); err != nil {
			return nil, fmt.Errorf("reading node registry from redis: %w", err)
		}
		c := st.net(n)
		for uri, v := range addedCmds[i].Val() {
			var a added
			if json.Unmarshal([]byte(v), &a) != nil || checkTier(a.Tier) != nil || checkURI(uri) != nil {
				s.log.Warn("ignoring an invalid node in redis", "network", n, "node", nodeurl.Redact(uri), "key", s.addedKey(n))
				continue
			}
			c.Added[uri] = a
		}
		for uri, v := range removedCmds[i].Val() {
			seq, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				seq = 0
			}
			c.Removed[uri] = seq
		}
	}
	return st, nil
}

// restore sets a new epoch and writes last's changes, unless another
// replica set an epoch first. It reports whether it wrote.
func (s *redisStore) restore(ctx context.Context, last *state) (bool, error) {
	wrote := false
	err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Exists(ctx, s.epochKey()).Result()
		if err != nil || n > 0 {
			return err
		}
		seq, err := tx.Get(ctx, s.seqKey()).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, s.epochKey(), newEpoch(), 0)
			if m := last.maxSeq(); m > seq {
				p.Set(ctx, s.seqKey(), m, 0)
			}
			for _, name := range s.networks() {
				c := last.Networks[name]
				if c == nil {
					continue
				}
				for uri, a := range c.Added {
					v, _ := json.Marshal(a)
					p.HSetNX(ctx, s.addedKey(name), uri, v)
				}
				for uri, seq := range c.Removed {
					p.HSetNX(ctx, s.removedKey(name), uri, seq)
				}
			}
			return nil
		})
		wrote = err == nil
		return err
	}, s.epochKey(), s.seqKey())
	if errors.Is(err, redis.TxFailedErr) {
		return false, nil // another replica wrote first; read what it wrote
	}
	if err != nil {
		return false, fmt.Errorf("initialising node registry in redis: %w", err)
	}
	return wrote, nil
}

func (s *redisStore) add(ctx context.Context, network, uri string, a added, configured bool) (bool, error) {
	seq, err := s.rdb.Incr(ctx, s.seqKey()).Result()
	if err != nil {
		return false, fmt.Errorf("adding node in redis: %w", err)
	}
	a.Seq = seq
	v, _ := json.Marshal(a)
	var del *redis.IntCmd
	var set *redis.BoolCmd
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.HDel(ctx, s.removedKey(network), uri)
		if !configured {
			set = p.HSetNX(ctx, s.addedKey(network), uri, v)
		}
		p.Publish(ctx, s.channel(), network)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("adding node in redis: %w", err)
	}
	return del.Val() > 0 || (set != nil && set.Val()), nil
}

func (s *redisStore) remove(ctx context.Context, network, uri string) error {
	seq, err := s.rdb.Incr(ctx, s.seqKey()).Result()
	if err != nil {
		return fmt.Errorf("removing node in redis: %w", err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, s.addedKey(network), uri)
		p.HSet(ctx, s.removedKey(network), uri, seq)
		p.Publish(ctx, s.channel(), network)
		return nil
	})
	if err != nil {
		return fmt.Errorf("removing node in redis: %w", err)
	}
	return nil
}

func newEpoch() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RedisLog passes go-redis's own messages (dial failures, pub/sub
// reconnections) to a slog logger at debug level; the registry already
// logs Redis going away and coming back once each. Install it with
// redis.SetLogger(registry.RedisLog{Log: log}); that setting is
// process-wide, so it belongs in cmd/evmgate.
type RedisLog struct{ Log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l RedisLog) Printf(ctx context.Context, format string, v ...any) {
	l.Log.DebugContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
