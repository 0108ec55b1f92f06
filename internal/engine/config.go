package engine

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/evmgate/evmgate/internal/certfile"
	"github.com/evmgate/evmgate/internal/nodeurl"
)

// Config is the `engine:` section of the evmgate configuration file. The
// multiplexer is off unless Enabled is set.
type Config struct {
	// Enabled turns the Engine API listener on. Off by default.
	Enabled bool `yaml:"enabled"`
	// ListenAddr is where the consensus client connects (host:port). Default
	// "127.0.0.1:7000". Keep it on loopback or a private network: whoever
	// holds the JWT secret can drive every execution client behind it.
	ListenAddr string `yaml:"listen_addr"`
	// JWTSecretPath is the file holding the 32-byte hex secret shared with the
	// consensus client (optional 0x prefix, surrounding whitespace ignored).
	// It is also the secret for every node that does not set its own.
	JWTSecretPath string `yaml:"jwt_secret"`
	// FCUMajority is the share of answering voting nodes that must agree on a
	// payload status: required = round(answers × fcu_majority). Default 0.6,
	// which needs 1 of 1, 1 of 2, 2 of 3, 2 of 4, 3 of 5.
	FCUMajority float64 `yaml:"fcu_majority"`
	// MinAgree is an absolute floor on the number of agreeing nodes, applied
	// after fcu_majority. Default 1. With min_agree 2, a single answering node
	// can never make the answer VALID.
	MinAgree int `yaml:"min_agree"`
	// NodeTimeout bounds one call to one node (default "4s"). Keep it below the
	// consensus client's own budget (8 s for newPayload and forkchoiceUpdated),
	// so the client still gets an answer when a node hangs.
	NodeTimeout string `yaml:"node_timeout"`
	// GetPayloadTimeout is the deadline for engine_getPayload* and the other
	// methods the spec limits to 1 s (exchangeCapabilities,
	// getClientVersionV1, getBlobs*). Default "800ms"; must be under 1 s.
	GetPayloadTimeout string `yaml:"get_payload_timeout"`
	// RecheckInterval is how often every node's state is probed with
	// eth_syncing (default "5s"). A failed call triggers a probe at once.
	RecheckInterval string `yaml:"recheck_interval"`
	// AdminToken protects GET /recheck and POST /add_nodes (sent as
	// "Authorization: Bearer <token>"). Empty disables both endpoints.
	AdminToken string `yaml:"admin_token"`
	// LogLevel is only used by the standalone `evmgate engine` command
	// (executionbackup's --log-level); the YAML gateway has its own setting.
	LogLevel string `yaml:"log_level,omitempty"`
	// Nodes are the execution clients' authenticated Engine API endpoints.
	Nodes []NodeConfig `yaml:"nodes"`
	// TLS serves the Engine API listener over TLS (the consensus client
	// then connects with https://). Empty: plain HTTP.
	TLS certfile.Config `yaml:"tls"`
}

// NodeConfig is one execution client behind the multiplexer.
type NodeConfig struct {
	// URL of the node's authenticated Engine API port, e.g.
	// "http://127.0.0.1:8551".
	URL string `yaml:"url"`
	// JWTSecretPath is this node's secret file; empty uses engine.jwt_secret.
	JWTSecretPath string `yaml:"jwt_secret"`
	// Timeout overrides engine.node_timeout for this node.
	Timeout string `yaml:"timeout"`
	// DoNotUse makes the node receive every call without ever voting or
	// serving as primary (executionbackup's #do-not-use): useful to keep a
	// new or experimental client in step without trusting it.
	DoNotUse bool `yaml:"do_not_use"`
}

// Defaults, in one place.
const (
	DefaultListenAddr        = "127.0.0.1:7000"
	DefaultFCUMajority       = 0.6
	DefaultMinAgree          = 1
	DefaultNodeTimeout       = "4s"
	DefaultGetPayloadTimeout = "800ms"
	DefaultRecheckInterval   = "5s"
)

// Default fills every unset field with its default.
func (c *Config) Default() {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.FCUMajority == 0 {
		c.FCUMajority = DefaultFCUMajority
	}
	if c.MinAgree == 0 {
		c.MinAgree = DefaultMinAgree
	}
	if c.NodeTimeout == "" {
		c.NodeTimeout = DefaultNodeTimeout
	}
	if c.GetPayloadTimeout == "" {
		c.GetPayloadTimeout = DefaultGetPayloadTimeout
	}
	if c.RecheckInterval == "" {
		c.RecheckInterval = DefaultRecheckInterval
	}
}

// Validate checks a defaulted Config. Each error names the key path and the
// fix; secret files are read, so a wrong path fails here and not at the first
// call. A disabled section is not checked.
func (c Config) Validate() error { return c.validate(fileKeys) }

// ValidateFlags validates a configuration ParseFlags made: its errors name
// the flags the user wrote instead of the configuration file's keys.
func (c Config) ValidateFlags() error { return c.validate(flagKeys) }

// keyNames names a Config's keys in its errors.
type keyNames struct {
	key  func(key string) string        // a key of the section
	node func(i int, opt string) string // a key of node i
	ref  func(i int) string             // node i, as a message refers to it
}

// fileKeys are the configuration file's names: engine.nodes[0].url.
var fileKeys = keyNames{
	key:  func(key string) string { return "engine." + key },
	node: func(i int, opt string) string { return fmt.Sprintf("engine.nodes[%d].%s", i, opt) },
	ref:  func(i int) string { return fmt.Sprintf("nodes[%d]", i) },
}

func (c Config) validate(names keyNames) error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	add := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	key := names.key
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		add(key("listen_addr"), "%q is not host:port (%v); use e.g. %q", c.ListenAddr, err, DefaultListenAddr)
	}
	if c.AdminToken != "" && len(c.AdminToken) < 16 {
		add(key("admin_token"), "is %d characters: use a secret of at least 16", len(c.AdminToken))
	}
	if c.JWTSecretPath == "" {
		add(key("jwt_secret"), "is required; point it at the consensus client's 32-byte hex jwt secret file")
	} else if _, err := LoadSecret(c.JWTSecretPath); err != nil {
		add(key("jwt_secret"), "%v; point it at the consensus client's 32-byte hex jwt secret file", err)
	}
	if !(c.FCUMajority > 0 && c.FCUMajority <= 1) {
		add(key("fcu_majority"), "%v is out of range; use a share in (0, 1], e.g. 0.6", c.FCUMajority)
	}
	if c.MinAgree < 1 {
		add(key("min_agree"), "%d is below 1; use 1 or more", c.MinAgree)
	}
	checkDuration(add, key("node_timeout"), c.NodeTimeout, 0)
	checkDuration(add, key("get_payload_timeout"), c.GetPayloadTimeout, time.Second)
	checkDuration(add, key("recheck_interval"), c.RecheckInterval, 0)
	if len(c.Nodes) == 0 {
		add(key("nodes"), "is empty; list at least one execution client (url, jwt_secret)")
	}
	seen := map[string]int{}
	for i, n := range c.Nodes {
		if err := checkNodeURL(n.URL); err != nil {
			add(names.node(i, "url"), "%v; use the node's authenticated Engine API URL, e.g. http://127.0.0.1:8551", err)
		} else if j, dup := seen[n.URL]; dup {
			add(names.node(i, "url"), "%q repeats %s; list each node once", nodeurl.Redact(n.URL), names.ref(j))
		}
		seen[n.URL] = i
		if n.JWTSecretPath != "" {
			if _, err := LoadSecret(n.JWTSecretPath); err != nil {
				add(names.node(i, "jwt_secret"), "%v; point it at this node's 32-byte hex jwt secret file", err)
			}
		}
		if n.Timeout != "" {
			checkDuration(add, names.node(i, "timeout"), n.Timeout, 0)
		}
	}
	if err := c.TLS.Validate("engine.tls", false); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func checkDuration(add func(string, string, ...any), key, value string, below time.Duration) {
	d, err := time.ParseDuration(value)
	switch {
	case err != nil:
		add(key, "%q is not a duration; write it like \"2s\" or \"800ms\"", value)
	case d <= 0:
		add(key, "%q must be positive", value)
	case below > 0 && d >= below:
		add(key, "%q must be under %v (the spec's deadline for these methods)", value, below)
	}
}

func checkNodeURL(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	// The URL may hold credentials or an API key: errors show it redacted,
	// and never url.Error's quote of it.
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("does not parse: %v", nodeurl.Cause(err))
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", nodeurl.Redact(raw))
	}
	return nil
}

// durations is the parsed form of the duration strings of a valid Config.
type durations struct {
	node, getPayload, recheck time.Duration
}

func (c Config) durations() durations {
	return durations{
		node:       mustDuration(c.NodeTimeout),
		getPayload: mustDuration(c.GetPayloadTimeout),
		recheck:    mustDuration(c.RecheckInterval),
	}
}

// mustDuration parses a duration already checked by Validate.
func mustDuration(s string) time.Duration {
	d, _ := time.ParseDuration(s)
	return d
}
