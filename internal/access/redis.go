package access

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcra takes a charge atomically from every bucket (GCRA: the stored value
// is each bucket's theoretical arrival time in microseconds) and from a
// daily quota, on Redis's own clock, so every replica shares one limit.
//
// KEYS: the buckets, then the quota counter when ARGV[3] = 1.
// ARGV: cost, number of buckets, has quota, then per bucket the emission
// interval and the burst tolerance (µs), then the quota and its TTL (s).
// Returns {1, 0, 0} when served, {0, retry µs, i} when bucket i (from 1)
// refused, {0, retry µs, 0} when the quota is used up.
var gcra = redis.NewScript(`
local cost = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
for i = 1, n do
  local interval = tonumber(ARGV[3 + 2 * i - 1])
  local tolerance = tonumber(ARGV[3 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new = tat + cost * interval
  local allow = new - tolerance
  if allow > now then return {0, allow - now, i} end
  tats[i] = new
end
if ARGV[3] == '1' then
  local q = KEYS[n + 1]
  local limit = tonumber(ARGV[3 + 2 * n + 1])
  local used = tonumber(redis.call('GET', q) or '0')
  if used + cost > limit then return {0, tonumber(redis.call('TTL', q)) * 1000000, 0} end
  redis.call('INCRBY', q, cost)
  if used == 0 then redis.call('EXPIRE', q, tonumber(ARGV[3 + 2 * n + 2])) end
end
for i = 1, n do
  redis.call('SET', KEYS[i], tats[i], 'PX', math.ceil((tats[i] - now) / 1000) + 1)
end
return {1, 0, 0}
`)

// shared keeps buckets and quotas in Redis.
type shared struct {
	rdb    redis.UniversalClient
	prefix string
}

func (s *shared) take(ctx context.Context, c *charge, now time.Time) (outcome, error) {
	var keysBuf [3]string
	var argsBuf [9]any
	keys, args := keysBuf[:0], argsBuf[:0]
	hasQuota := "0"
	if c.quotaID != "" {
		hasQuota = "1"
	}
	args = append(args, c.cost, c.n, hasQuota)
	for i := range c.n {
		b := &c.buckets[i]
		keys = append(keys, s.prefix+"rl:"+b.name())
		interval := int64(float64(time.Second/time.Microsecond) / b.limit.Rate)
		args = append(args, interval, interval*int64(b.limit.Burst))
	}
	if c.quotaID != "" {
		day := now.UTC().Format("20060102")
		keys = append(keys, s.prefix+"quota:"+c.quotaID+":"+day)
		args = append(args, c.quota, int64(untilMidnight(now)/time.Second)+60)
	}
	res, err := gcra.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return outcome{}, err
	}
	if len(res) != 3 {
		return outcome{}, errBadReply(len(res))
	}
	retry := time.Duration(res[1]) * time.Microsecond
	switch {
	case res[0] == 1:
		return outcome{ok: true}, nil
	case res[2] == 0:
		return outcome{quota: true, retry: retry}, nil
	}
	return outcome{which: int(res[2]) - 1, retry: retry}, nil
}

type errBadReply int

func (e errBadReply) Error() string {
	return "rate-limit script answered " + strconv.Itoa(int(e)) + " values, want 3"
}

var _ limiter = (*shared)(nil)
