package registry

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/redis/go-redis/v9"
)

// Config is the `admin:` section of the configuration file: the admin API
// and where runtime node changes are kept. It is plain data; New reads it
// after Default and Validate.
type Config struct {
	// AdminListen is the admin API's host:port. Empty (the default) turns
	// the admin API off. A bare ":port" listens on 127.0.0.1 only; any
	// address that is not loopback requires a token.
	AdminListen string `yaml:"listen"`
	// AdminToken is the bearer token every admin request must carry
	// ("Authorization: Bearer <token>"), at least 16 characters. Required
	// when listen is not a loopback address; when set it is always
	// required, loopback included.
	AdminToken string `yaml:"token"`
	// StateFile keeps runtime node changes on local disk so they survive a
	// restart of a single instance. With redis_url it is a local copy of
	// the last state read from Redis, used only when Redis cannot be
	// reached at start.
	StateFile string `yaml:"state_file"`
	// RedisURL (redis://[user:password@]host:port/db or rediss://...) makes
	// Redis the shared store of runtime node changes for every replica.
	RedisURL string `yaml:"redis_url"`
	// RedisPrefix starts every Redis key and channel evmgate uses.
	// Default "evmgate:".
	RedisPrefix string `yaml:"redis_prefix"`
	// ResyncInterval is how often the whole node set is re-read from Redis,
	// besides the change notifications. Default "5s".
	ResyncInterval string `yaml:"resync_interval"`
	// DefaultNetwork is the network that prio-load-balancer's /nodes API
	// manages. Default: the first network.
	DefaultNetwork string `yaml:"default_network"`
	// OnRPC serves the admin API on the JSON-RPC listener too, as
	// prio-load-balancer serves /nodes beside its calls. Unless the
	// JSON-RPC listener is a loopback address, a token is required.
	OnRPC bool `yaml:"on_rpc"`
	// TLS serves the admin listener over TLS; with client_ca_file, only
	// clients presenting a certificate signed by one of its CAs are served.
	TLS certfile.Config `yaml:"tls"`
}

// Defaults, in one place.
const (
	DefaultRedisPrefix    = "evmgate:"
	DefaultResyncInterval = "5s"
	minTokenLen           = 16
)

// Default fills every unset field with its default. A listen address
// without a host becomes a loopback address.
func (c *Config) Default() {
	if c.RedisPrefix == "" {
		c.RedisPrefix = DefaultRedisPrefix
	}
	if c.ResyncInterval == "" {
		c.ResyncInterval = DefaultResyncInterval
	}
	if host, port, err := net.SplitHostPort(c.AdminListen); err == nil && host == "" {
		c.AdminListen = net.JoinHostPort("127.0.0.1", port)
	}
}

// Validate reports every problem, each naming its key path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("admin.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			bad("listen", "%q is not host:port (e.g. 127.0.0.1:9102)", c.AdminListen)
		} else if !c.Loopback() && c.AdminToken == "" {
			bad("token", "required because admin.listen %q is not a loopback address", c.AdminListen)
		}
	}
	if c.AdminToken != "" && len(c.AdminToken) < minTokenLen {
		bad("token", "must be at least %d characters", minTokenLen)
	}
	if msg := RedisURLProblem(c.RedisURL); msg != "" {
		bad("redis_url", "%s", msg)
	}
	if d, err := time.ParseDuration(c.ResyncInterval); err != nil || d <= 0 {
		bad("resync_interval", "%q is not a positive duration such as \"5s\"", c.ResyncInterval)
	}
	if strings.ContainsAny(c.RedisPrefix, " \t\n") {
		bad("redis_prefix", "must not contain white space")
	}
	if err := c.TLS.Validate("admin.tls", true); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Loopback reports whether the admin listener only accepts local
// connections.
func (c *Config) Loopback() bool {
	host, _, err := net.SplitHostPort(c.AdminListen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) resync() time.Duration {
	d, err := time.ParseDuration(c.ResyncInterval)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(DefaultResyncInterval)
	}
	return d
}

// RedisURLProblem says what is wrong with a Redis URL and how to write it,
// or "" when it is valid or empty. The caller names the key.
func RedisURLProblem(url string) string {
	if url == "" {
		return ""
	}
	if _, err := redis.ParseURL(url); err != nil {
		return fmt.Sprintf("%v: write redis://[user:password@]host:port/db, or rediss:// for TLS", err)
	}
	return ""
}
