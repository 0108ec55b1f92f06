package access

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/methodset"
)

// Config is the `access:` section of the configuration file. It is plain
// data; New reads it after Default and Validate.
type Config struct {
	// Keys are the API keys defined in the file.
	Keys []KeySpec `yaml:"keys"`
	// RequireKey refuses calls without a valid key or token. Default: true
	// when any key is configured (here, or at runtime through the admin
	// API) or jwt is set; false otherwise (open, as without this section).
	RequireKey *bool `yaml:"require_key"`
	// Methods is the method policy of every network on the JSON-RPC
	// listener. admin_*, personal_*, miner_* and engine_* are refused
	// unless an allow list (here, a network's or a key's) names them.
	Methods MethodPolicy `yaml:"methods"`
	// Networks holds per-network policy, by network name.
	Networks map[string]NetworkPolicy `yaml:"networks"`
	// Costs are the compute units of methods (default 1 each), e.g.
	// {eth_getLogs: 75}; a rate limit and a daily quota count these units.
	Costs map[string]int `yaml:"costs"`
	// PerIP limits each client IP (calls/s and burst); 0 turns it off.
	PerIP Limit `yaml:"per_ip"`
	// TrustedProxies are the CIDRs of proxies whose X-Forwarded-For and
	// Forwarded headers name the client; from any other peer those headers
	// are ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SharedLimits keeps the rate-limit buckets and quotas in Redis
	// (admin.redis_url), shared by every replica. Default false: local.
	SharedLimits bool `yaml:"shared_limits"`
	// RedisFailMode is what a shared limit does while Redis cannot be
	// reached: "open" (serve, counted locally meanwhile; the default) or
	// "closed" (refuse with 503).
	RedisFailMode string `yaml:"redis_fail_mode"`
	// CORSOrigins are the browser origins allowed on every network
	// ("https://app.example", "*"). Default none: no CORS headers.
	CORSOrigins []string `yaml:"cors_origins"`
	// JWT accepts signed tokens in Authorization: Bearer.
	JWT JWTConfig `yaml:"jwt"`
}

// MethodPolicy allows and denies methods; entries are names or prefixes
// ending in * ("debug_*"). Deny wins over allow; a non-empty allow list
// admits only what it names.
type MethodPolicy = methodset.Lists

// NetworkPolicy is one network's policy.
type NetworkPolicy struct {
	Methods     MethodPolicy `yaml:"methods"`
	CORSOrigins []string     `yaml:"cors_origins"`
}

// Limit is a token bucket: Rate calls (or compute units) per second, and
// Burst more at once. Rate 0 means unlimited.
type Limit struct {
	Rate  float64 `yaml:"rate" json:"rate"`
	Burst int     `yaml:"burst" json:"burst"`
}

// KeySpec is one API key.
type KeySpec struct {
	// Name identifies the key in logs, metrics, /status and errors.
	Name string `yaml:"name" json:"name"`
	// Key is the secret (use ${VAR}); or give KeySHA256, its hex SHA-256.
	Key       string `yaml:"key" json:"-"`
	KeySHA256 string `yaml:"key_sha256" json:"key_sha256,omitempty"`
	// Networks the key may call; empty: every network.
	Networks []string `yaml:"networks" json:"networks,omitempty"`
	// Methods narrows (or, with allow, widens past the default refusals)
	// what the key may call.
	Methods MethodPolicy `yaml:"methods" json:"methods"`
	// Class is the highest priority class the key's calls get
	// (fast_track, high, low): calls without a class header get it, calls
	// asking more are capped to it. Empty: the headers decide.
	Class string `yaml:"class" json:"class,omitempty"`
	// Limit is the key's rate limit, shared by all its calls.
	Limit Limit `yaml:"limit" json:"limit"`
	// DailyQuota bounds the compute units per UTC day; 0: none.
	DailyQuota int64 `yaml:"daily_quota" json:"daily_quota,omitempty"`
	// Costs override access.costs for this key's calls.
	Costs map[string]int `yaml:"costs" json:"costs,omitempty"`
	// CORSOrigins are the browser origins allowed with this key.
	CORSOrigins []string `yaml:"cors_origins" json:"cors_origins,omitempty"`
	// Expires is when the key stops working (RFC 3339); empty: never.
	Expires string `yaml:"expires" json:"expires,omitempty"`
}

// JWTConfig accepts JSON Web Tokens signed with HS256, RS256 or ES256.
type JWTConfig struct {
	// HMACSecretFile holds the HS256 secret.
	HMACSecretFile string `yaml:"hmac_secret_file"`
	// PublicKeyFiles are PEM RSA or ECDSA public keys (RS256, ES256).
	PublicKeyFiles []string `yaml:"public_key_files"`
	// JWKSFile is a JSON Web Key Set file; a token's kid picks its key.
	JWKSFile string `yaml:"jwks_file"`
	// Issuer and Audience, when set, must match the token's iss and aud.
	Issuer   string `yaml:"issuer"`
	Audience string `yaml:"audience"`
	// Leeway tolerates clock skew on exp and nbf. Default "30s".
	Leeway string `yaml:"leeway"`
}

// Enabled reports whether tokens are accepted.
func (j *JWTConfig) Enabled() bool {
	return j.HMACSecretFile != "" || len(j.PublicKeyFiles) > 0 || j.JWKSFile != ""
}

// Default fills unset fields.
func (c *Config) Default() {
	if c.RedisFailMode == "" {
		c.RedisFailMode = "open"
	}
	if c.JWT.Leeway == "" {
		c.JWT.Leeway = "30s"
	}
}

// Validate reports every problem, each naming its key path and the fix.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("access.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	names := map[string]bool{}
	secrets := map[[32]byte]int{} // the first key of each secret
	for i, k := range c.Keys {
		path := fmt.Sprintf("keys[%d]", i)
		for _, e := range k.validate() {
			bad(path+"."+e.key, "%s", e.msg)
		}
		if names[k.Name] {
			bad(path+".name", "%q names two keys: give each key its own name", k.Name)
		}
		names[k.Name] = true
		if h, key, ok := k.secretHash(); ok {
			if j, dup := secrets[h]; dup {
				bad(path+"."+key, "the same secret as access.keys[%d] (name %q): give each key its own", j, c.Keys[j].Name)
			} else {
				secrets[h] = i
			}
		}
	}
	for _, e := range validatePolicy(c.Methods) {
		bad("methods."+e.key, "%s", e.msg)
	}
	for name, n := range c.Networks {
		for _, e := range validatePolicy(n.Methods) {
			bad("networks."+name+".methods."+e.key, "%s", e.msg)
		}
	}
	for m, v := range c.Costs {
		if v < 0 {
			bad("costs."+m, "%d is negative: use 0 or more compute units", v)
		}
	}
	if e := c.PerIP.validate(); e != "" {
		bad("per_ip", "%s", e)
	}
	for i, s := range c.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not a CIDR or an IP: use e.g. 10.0.0.0/8", s)
		}
	}
	if c.RedisFailMode != "open" && c.RedisFailMode != "closed" {
		bad("redis_fail_mode", "%q is unknown: use open or closed", c.RedisFailMode)
	}
	if d, err := time.ParseDuration(c.JWT.Leeway); err != nil || d < 0 {
		bad("jwt.leeway", "%q is not a duration: use e.g. \"30s\"", c.JWT.Leeway)
	}
	if c.JWT.Enabled() {
		// The key files are read as at start, so a check refuses what
		// starting would refuse, with the same message.
		if _, err := newVerifier(c.JWT); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type fieldError struct{ key, msg string }

func (k *KeySpec) validate() []fieldError {
	var out []fieldError
	add := func(key, format string, args ...any) {
		out = append(out, fieldError{key, fmt.Sprintf(format, args...)})
	}
	if k.Name == "" {
		add("name", "missing: name the key (it is what logs and errors show)")
	}
	switch {
	case k.Key != "" && k.KeySHA256 != "":
		add("key", "set key or key_sha256, not both")
	case k.Key == "" && k.KeySHA256 == "":
		add("key", "missing: set key (e.g. ${CLIENT_KEY}) or key_sha256")
	case k.Key != "" && len(k.Key) < MinKeyLen:
		add("key", "too short: use at least %d characters (evmgate keys create makes one)", MinKeyLen)
	case k.Key != "" && strings.ContainsAny(k.Key, "/ \t\r\n"):
		add("key", "holds a slash or a space: a key must fit in one URL path segment")
	case k.KeySHA256 != "":
		if b, err := hex.DecodeString(k.KeySHA256); err != nil || len(b) != 32 {
			add("key_sha256", "not 64 hex digits: use the output of sha256sum")
		}
	}
	for _, e := range validatePolicy(k.Methods) {
		add("methods."+e.key, "%s", e.msg)
	}
	if _, err := parseClass(k.Class); err != nil {
		add("class", "%q is unknown: use fast_track, high or low", k.Class)
	}
	if e := k.Limit.validate(); e != "" {
		add("limit", "%s", e)
	}
	if k.DailyQuota < 0 {
		add("daily_quota", "%d is negative: use 0 for none", k.DailyQuota)
	}
	if k.Expires != "" {
		if _, err := time.Parse(time.RFC3339, k.Expires); err != nil {
			add("expires", "%q is not an RFC 3339 time: use e.g. 2027-01-31T00:00:00Z", k.Expires)
		}
	}
	return out
}

// secretHash is the hash a key is known by, as compile reads it, and the
// key that gives it (key or key_sha256); ok is false when neither does.
func (k *KeySpec) secretHash() (h [32]byte, key string, ok bool) {
	if k.Key != "" {
		return Hash(k.Key), "key", true
	}
	b, err := hex.DecodeString(k.KeySHA256)
	if err != nil || len(b) != len(h) {
		return h, "key_sha256", false
	}
	copy(h[:], b)
	return h, "key_sha256", true
}

func validatePolicy(p MethodPolicy) []fieldError {
	var out []fieldError
	for _, e := range p.Problems() {
		out = append(out, fieldError{e.Key, e.Message})
	}
	return out
}

func (l Limit) validate() string {
	switch {
	case l.Rate < 0:
		return "rate is negative: use calls per second, or 0 for no limit"
	case l.Burst < 0:
		return "burst is negative: use 1 or more"
	case l.Rate > 0 && l.Burst == 0:
		return "burst is 0: use at least 1 (the calls allowed at once)"
	}
	return ""
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
