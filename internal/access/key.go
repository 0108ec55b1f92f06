package access

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/evmgate/evmgate/internal/sched"
)

// MinKeyLen is the shortest key accepted.
const MinKeyLen = 16

// Key is one API key (or the settings a JWT's claims carry), compiled for
// the request path. It is immutable once built.
type Key struct {
	Name        string
	hash        [32]byte
	networks    map[string]bool // nil: all
	methods     policy
	class       sched.Class
	hasClass    bool
	limit       Limit
	dailyQuota  int64
	costs       map[string]int
	corsOrigins []string
	expires     time.Time // zero: never
	bucket      string    // the rate-limit bucket: "k:"+name or "t:"+subject
}

// Hash is the SHA-256 of a key: what is stored and compared.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// NewSecret returns a new random key: 32 bytes, URL-safe base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "eg_" + base64.RawURLEncoding.EncodeToString(b)
}

// compile builds a Key from a validated spec.
func compile(s KeySpec, bucketPrefix string) (*Key, error) {
	k := &Key{Name: s.Name, limit: s.Limit, dailyQuota: s.DailyQuota, costs: s.Costs,
		corsOrigins: s.CORSOrigins, bucket: bucketPrefix + s.Name}
	if s.Key != "" {
		k.hash = Hash(s.Key)
	} else if s.KeySHA256 != "" {
		b, err := hex.DecodeString(s.KeySHA256)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("key %q: key_sha256 is not 64 hex digits", s.Name)
		}
		copy(k.hash[:], b)
	}
	if len(s.Networks) > 0 {
		k.networks = make(map[string]bool, len(s.Networks))
		for _, n := range s.Networks {
			k.networks[n] = true
		}
	}
	k.methods = compilePolicy(s.Methods)
	c, err := parseClass(s.Class)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", s.Name, err)
	}
	k.class, k.hasClass = c, s.Class != ""
	if s.Expires != "" {
		if k.expires, err = time.Parse(time.RFC3339, s.Expires); err != nil {
			return nil, fmt.Errorf("key %q: expires: %w", s.Name, err)
		}
	}
	return k, nil
}

// Class returns the priority class of a call carrying h: the key's class
// when the headers ask for none, capped at the key's class otherwise.
func (k *Key) Class(h Header) sched.Class {
	asked := sched.ClassFrom(h)
	if k == nil || !k.hasClass {
		return asked
	}
	if asked == sched.Low && h.Get(sched.HeaderFastTrack) == "" && h.Get(sched.HeaderHighPriority) == "" {
		return k.class
	}
	return max(asked, k.class) // a lower Class value is a higher priority
}

// AllowsNetwork reports whether the key may call network.
func (k *Key) AllowsNetwork(network string) bool { return k.networks == nil || k.networks[network] }

// Expired reports whether the key has expired at now.
func (k *Key) Expired(now time.Time) bool { return !k.expires.IsZero() && !now.Before(k.expires) }

func parseClass(s string) (sched.Class, error) {
	switch s {
	case "", "low":
		return sched.Low, nil
	case "high":
		return sched.High, nil
	case "fast_track":
		return sched.FastTrack, nil
	}
	return sched.Low, fmt.Errorf("class %q is unknown: use fast_track, high or low", s)
}
