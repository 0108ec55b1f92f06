package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// RedisConfig is the second level shared by replicas.
type RedisConfig struct {
	// URL is redis://[user:password@]host:port/db or rediss://...
	URL string
	// Prefix starts every key.
	Prefix string
	// TTL is how long an entry lives in Redis.
	TTL time.Duration
	// MaxBytes bounds the bytes of entries written in the last TTL, so of
	// the entries alive, across every replica.
	MaxBytes int64
	// Timeout bounds one read or write.
	Timeout time.Duration
}

// The second level's sizes.
const (
	// redisEntryOverhead is what an entry is counted beyond its key and
	// value, for Redis's own bookkeeping.
	redisEntryOverhead = 64
	// redisQueue bounds the writes waiting for Redis; more are dropped.
	redisQueue = 1024
	// redisPause is how long Redis is left alone after a failure: the calls
	// meanwhile miss at once instead of waiting for a dead server.
	redisPause = time.Second
)

// capWrite writes an entry unless the bytes written in this window and the
// one before (every entry alive, since an entry lives one window) would go
// over the cap. KEYS: this window's counter, the previous window's, the
// entry. ARGV: size, counter lifetime (ms), cap, value, entry TTL (ms).
// Returns 1 written, 0 over the cap, 2 already there.
var capWrite = redis.NewScript(`
local size = tonumber(ARGV[1])
local cur = redis.call('INCRBY', KEYS[1], size)
if cur == size then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
if cur + prev > tonumber(ARGV[3]) then
	redis.call('DECRBY', KEYS[1], size)
	return 0
end
if not redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5], 'NX') then
	redis.call('DECRBY', KEYS[1], size)
	return 2
end
return 1`)

// l2 is the Redis level: reads on a miss of the memory level, writes in
// the background through a bounded queue.
type l2 struct {
	cfg    RedisConfig
	rdb    *redis.Client
	writes chan l2Write
	pause  atomic.Int64 // unix ns until which Redis is not asked
	res    map[string]prometheus.Counter
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// l2Write is an entry to write, or (done set) a marker that Flush waits for.
type l2Write struct {
	key  string
	e    *entry
	done chan struct{}
}

func newL2(cfg RedisConfig, m *Metrics) (*l2, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing cache.redis_url: %w", err)
	}
	opt.DialTimeout = max(cfg.Timeout, 250*time.Millisecond)
	opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = cfg.Timeout, cfg.Timeout, cfg.Timeout
	opt.MaxRetries = -1 // a miss is cheaper than a retry
	opt.DialerRetries = 1
	ctx, cancel := context.WithCancel(context.Background())
	l := &l2{cfg: cfg, rdb: redis.NewClient(opt), writes: make(chan l2Write, redisQueue), cancel: cancel, res: map[string]prometheus.Counter{}}
	for _, r := range []string{"hit", "miss", "error", "skipped", "written", "full", "dropped"} {
		l.res[r] = m.redis.WithLabelValues(r)
	}
	l.wg.Go(func() { l.writer(ctx) })
	return l, nil
}

func (l *l2) close() {
	l.cancel()
	l.wg.Wait()
	l.rdb.Close()
}

func (l *l2) key(k string) string { return l.cfg.Prefix + "e:" + k }

// up reports whether Redis may be asked now.
func (l *l2) up() bool {
	if time.Now().UnixNano() < l.pause.Load() {
		l.res["skipped"].Inc()
		return false
	}
	return true
}

func (l *l2) failed() {
	l.res["error"].Inc()
	l.pause.Store(time.Now().Add(redisPause).UnixNano())
}

// get reads key's entry; nil on a miss, an error or while Redis rests.
func (l *l2) get(key string) *entry {
	if !l.up() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Timeout)
	defer cancel()
	v, err := l.rdb.Get(ctx, l.key(key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		l.res["miss"].Inc()
		return nil
	case err != nil:
		l.failed()
		return nil
	case len(v) < 4 || int(binary.BigEndian.Uint32(v)) > len(v)-4:
		l.res["miss"].Inc() // not an entry of this format
		return nil
	}
	l.res["hit"].Inc()
	return &entry{body: v[4:], idAt: int(binary.BigEndian.Uint32(v))}
}

// put queues e to be written under key; a full queue drops it.
func (l *l2) put(key string, e *entry) {
	select {
	case l.writes <- l2Write{key: key, e: e}:
	default:
		l.res["dropped"].Inc()
	}
}

// flush waits until the writes queued before it are done.
func (l *l2) flush(ctx context.Context) error {
	done := make(chan struct{})
	select {
	case l.writes <- l2Write{done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *l2) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-l.writes:
			if w.done != nil {
				close(w.done)
				continue
			}
			if l.up() {
				l.write(ctx, w)
			}
		}
	}
}

func (l *l2) write(ctx context.Context, w l2Write) {
	val := make([]byte, 4, 4+len(w.e.body))
	binary.BigEndian.PutUint32(val, uint32(w.e.idAt))
	val = append(val, w.e.body...)
	key := l.key(w.key)
	size := len(key) + len(val) + redisEntryOverhead
	window := l.cfg.TTL.Milliseconds()
	n := time.Now().UnixMilli() / window
	counters := [2]string{l.cfg.Prefix + "bytes:" + strconv.FormatInt(n, 10), l.cfg.Prefix + "bytes:" + strconv.FormatInt(n-1, 10)}
	wctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
	defer cancel()
	r, err := capWrite.Run(wctx, l.rdb, []string{counters[0], counters[1], key},
		size, 2*window+60_000, l.cfg.MaxBytes, val, window).Int()
	switch {
	case err != nil:
		if ctx.Err() == nil {
			l.failed()
		}
	case r == 0:
		l.res["full"].Inc()
	case r == 1:
		l.res["written"].Inc()
	}
}
