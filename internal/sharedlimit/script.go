package sharedlimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/evmgate/evmgate/internal/upstream"
)

// lease takes up to ask tokens from a node's shared bucket, and tells and
// reads its cool-down, atomically and on Redis's own clock. The bucket is
// kept as GCRA does: "tat" is the theoretical arrival time (µs) after
// which the bucket is full again; "cool" is the time (µs) until which the
// node cools down after a replica met its HTTP 429.
//
// KEYS: the node's hash. ARGV: the emission interval (µs a token), the
// burst tolerance (µs: burst × interval), tokens asked, a cool-down to
// tell (µs; 0: none), tokens owed (spent beyond a lease by a batch larger
// than it: charged whatever the bucket holds, so that every replica waits
// until they are paid).
// Returns {granted, retry µs (with none granted: until one may be), cool µs left}.
// Tokens are granted in part when fewer than asked are left, none while
// the node cools down.
var lease = redis.NewScript(`
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local ask = tonumber(ARGV[3])
local tell = tonumber(ARGV[4])
local owe = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 'tat', 'cool')
local tat = tonumber(v[1]) or now
if tat < now then tat = now end
local cool = tonumber(v[2]) or 0
local changed = false
if tell > 0 and now + tell > cool then
  cool = now + tell
  changed = true
end
if owe > 0 then
  tat = tat + owe * interval
  changed = true
end
local granted, retry = 0, 0
if cool > now then
  retry = cool - now
elseif ask > 0 then
  local free = math.floor((now + tolerance - tat) / interval)
  if free > ask then free = ask end
  if free >= 1 then
    granted = free
    tat = tat + free * interval
    changed = true
  else
    retry = tat + interval - tolerance - now
  end
end
if changed then
  local keep = math.max(tat, cool) - now
  redis.call('HSET', KEYS[1], 'tat', tat, 'cool', cool)
  redis.call('PEXPIRE', KEYS[1], math.ceil(keep / 1000) + 1)
end
local left = cool - now
if left < 0 then left = 0 end
return {granted, retry, left}
`)

// Key is the Redis key of the shared bucket of the node at url, sent
// headers: the provider's plan is its URL's (an API key is often in it)
// and headers', whatever a replica names the node, so every replica finds
// the same bucket. They are hashed: no key of the plan is written to Redis.
func Key(prefix, url string, headers http.Header) string {
	h := sha256.New()
	h.Write([]byte(nodeurl.Key(url))) // one plan however a replica writes its URL
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		for _, v := range headers[k] {
			h.Write([]byte{0})
			h.Write([]byte(k))
			h.Write([]byte{0})
			h.Write([]byte(v))
		}
	}
	return prefix + "nodelimit:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// take asks Redis for a node's lease.
func take(ctx context.Context, rdb redis.Scripter, key string, ask upstream.LeaseAsk) (upstream.LeaseAnswer, error) {
	interval := max(1, int64(float64(time.Second/time.Microsecond)/ask.Rate))
	res, err := lease.Run(ctx, rdb, []string{key}, interval, interval*int64(ask.Burst), ask.Tokens,
		ask.Cool.Microseconds(), ask.Owe).Int64Slice()
	if err != nil {
		return upstream.LeaseAnswer{}, err
	}
	if len(res) != 3 {
		return upstream.LeaseAnswer{}, errBadReply(len(res))
	}
	return upstream.LeaseAnswer{
		Granted: int(res[0]),
		Retry:   time.Duration(res[1]) * time.Microsecond,
		Cool:    time.Duration(res[2]) * time.Microsecond,
	}, nil
}

type errBadReply int

func (e errBadReply) Error() string {
	return "node rate-limit script answered " + strconv.Itoa(int(e)) + " values, want 3"
}
