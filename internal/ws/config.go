package ws

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evmgate/evmgate/internal/yamlvalue"
)

// Config is the websocket: section of the configuration.
type Config struct {
	// MaxConnections limits the client WebSocket connections of the gateway;
	// an upgrade over the limit is answered with HTTP 503. Default 10000.
	MaxConnections int `yaml:"max_connections"`
	// MaxSubscriptionsPerConnection limits eth_subscribe per connection; one
	// more is answered with error -32005. Default 100.
	MaxSubscriptionsPerConnection int `yaml:"max_subscriptions_per_connection"`
	// MaxMessageBytes limits one message from a client; a larger one is
	// answered with error -32054 and the connection is closed (1009).
	// Default 8 MiB.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// MaxCallsPerConnection is how many calls of one connection are answered
	// at the same time; more wait. Default 64.
	MaxCallsPerConnection int `yaml:"max_calls_per_connection"`
	// SubscriberBuffer is how many messages may wait to be written to one
	// connection. A client that lets more pile up is too slow: it is
	// disconnected (1008) and no one else waits for it. Default 1024.
	SubscriberBuffer int `yaml:"subscriber_buffer"`
	// SubscriberBufferBytes bounds the bytes of the answers and
	// notifications waiting to be written to one connection. Past it, the
	// connection's next message is not read until the client has read
	// enough (its calls wait, and the client's own sends back up); a
	// notification that would put the notifications waiting past it cuts
	// the client off (1008), as subscriber_buffer does. One message larger
	// than the bound still goes through alone. Default 8 MiB.
	SubscriberBufferBytes int64 `yaml:"subscriber_buffer_bytes"`
	// PingInterval is how often idle connections, to clients and to nodes,
	// are pinged; a ping not answered within the interval closes the
	// connection. Default 30s.
	PingInterval Duration `yaml:"ping_interval"`
	// WriteTimeout bounds one write to a client. Default 10s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// UnsubscribeGrace keeps an upstream subscription open this long after
	// its last subscriber left, in case another asks for it. Default 10s.
	UnsubscribeGrace Duration `yaml:"unsubscribe_grace"`
	// PollInterval is how often a node without ws_endpoint is polled to feed
	// newHeads and logs subscriptions. Default 1s.
	PollInterval Duration `yaml:"poll_interval"`
	// MaxGapBlocks is the most blocks fetched to fill the gap a subscription
	// sees when it moves to another node. Default 128.
	MaxGapBlocks int `yaml:"max_gap_blocks"`
	// AllowedOrigins lists the browser origins (host patterns, e.g.
	// "*.example.com") allowed to connect. Empty: any origin.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// Defaults.
const (
	DefaultMaxConnections        = 10000
	DefaultMaxSubscriptions      = 100
	DefaultMaxMessageBytes       = 8 << 20
	DefaultMaxCallsPerConnection = 64
	DefaultSubscriberBuffer      = 1024
	DefaultSubscriberBufferBytes = 8 << 20
	DefaultPingInterval          = 30 * time.Second
	DefaultWriteTimeout          = 10 * time.Second
	DefaultUnsubscribeGrace      = 10 * time.Second
	DefaultPollInterval          = time.Second
	DefaultMaxGapBlocks          = 128
)

// Default fills unset keys.
func (c *Config) Default() {
	setIf(&c.MaxConnections, DefaultMaxConnections)
	setIf(&c.MaxSubscriptionsPerConnection, DefaultMaxSubscriptions)
	setIf(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	setIf(&c.MaxCallsPerConnection, DefaultMaxCallsPerConnection)
	setIf(&c.SubscriberBuffer, DefaultSubscriberBuffer)
	setIf(&c.SubscriberBufferBytes, DefaultSubscriberBufferBytes)
	setIf(&c.PingInterval, Duration(DefaultPingInterval))
	setIf(&c.WriteTimeout, Duration(DefaultWriteTimeout))
	setIf(&c.UnsubscribeGrace, Duration(DefaultUnsubscribeGrace))
	setIf(&c.PollInterval, Duration(DefaultPollInterval))
	setIf(&c.MaxGapBlocks, DefaultMaxGapBlocks)
}

func setIf[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate checks a defaulted Config. Each problem is one line of the
// error and names its key path (websocket.<key>) and the fix.
func (c *Config) Validate() error {
	var p []string
	add := func(key, format string, args ...any) {
		p = append(p, "websocket."+key+": "+fmt.Sprintf(format, args...))
	}
	for key, v := range map[string]int{
		"max_connections": c.MaxConnections, "max_subscriptions_per_connection": c.MaxSubscriptionsPerConnection,
		"max_calls_per_connection": c.MaxCallsPerConnection, "subscriber_buffer": c.SubscriberBuffer,
		"max_gap_blocks": c.MaxGapBlocks,
	} {
		if v < 1 {
			add(key, "%d is too small: use at least 1", v)
		}
	}
	if c.MaxGapBlocks > 10000 {
		add("max_gap_blocks", "%d is too large: use at most 10000", c.MaxGapBlocks)
	}
	if c.MaxMessageBytes < 1024 {
		add("max_message_bytes", "%d is too small: use at least 1024", c.MaxMessageBytes)
	}
	if c.SubscriberBufferBytes < 64<<10 {
		add("subscriber_buffer_bytes", "%d is too small: use at least 65536 (64 KiB)", c.SubscriberBufferBytes)
	}
	for key, d := range map[string]Duration{
		"ping_interval": c.PingInterval, "write_timeout": c.WriteTimeout, "poll_interval": c.PollInterval,
	} {
		if d.D() < 10*time.Millisecond {
			add(key, "%s is too short: use at least 10ms", d.D())
		}
	}
	if c.UnsubscribeGrace < 0 {
		add("unsubscribe_grace", "must not be negative")
	}
	for i, o := range c.AllowedOrigins {
		if strings.TrimSpace(o) == "" {
			add("allowed_origins["+strconv.Itoa(i)+"]", "empty origin pattern: remove it")
		} else if _, err := path.Match(o, ""); err != nil {
			add("allowed_origins["+strconv.Itoa(i)+"]", "%q is not a pattern (%v): write a host such as app.example, *.example.com, or https://app.example", o, err)
		}
	}
	slices.Sort(p)
	errs := make([]error, len(p))
	for i, m := range p {
		errs[i] = errors.New(m)
	}
	return errors.Join(errs...) // one problem per line
}

// Duration is a time.Duration written "500ms", "2s" or "1m" (a bare number
// is seconds), decoded as in the rest of the configuration.
type Duration = yamlvalue.Duration
