package config

import "time"

// Defaults of the routing keys.
const (
	DefaultConsistentMaxClients = 100_000
	DefaultConsistentTTL        = 10 * time.Minute
	DefaultConsistentWritePin   = time.Minute
	DefaultStateWindow          = 128
)

// ConsistentReads are a network's per-client consistency settings. A
// client names itself with the X-Client-ID header; a request without one
// is served as before.
type ConsistentReads struct {
	// Enabled turns consistent reads on for clients that name themselves.
	// Default true: only requests with X-Client-ID pay for it.
	Enabled *bool `yaml:"enabled"`
	// MaxClients bounds the clients tracked; the least used are forgotten
	// first. Default 100000.
	MaxClients int `yaml:"max_clients"`
	// TTL forgets a client after this long without a call. Default 10m.
	TTL Duration `yaml:"ttl"`
	// WritePin is how long lookups of a client's transaction go to the
	// node that accepted it. Default 1m.
	WritePin Duration `yaml:"write_pin"`
}

// On reports whether consistent reads are on. Unset keys take their
// defaults where the runtime is built (0 means the default).
func (c ConsistentReads) On() bool { return c.Enabled == nil || *c.Enabled }

func (c *ConsistentReads) validate(path string, p *problems) {
	if c.MaxClients < 0 {
		p.add(path+".max_clients", "must be 1 or more (0 takes the default %d)", DefaultConsistentMaxClients)
	}
	if c.TTL < 0 || (c.TTL > 0 && c.TTL.D() < time.Second) {
		p.add(path+".ttl", "%s is too short: use 1s or more, such as \"10m\"", c.TTL.D())
	}
	if c.WritePin < 0 || (c.WritePin > 0 && c.WritePin.D() < 100*time.Millisecond) {
		p.add(path+".write_pin", "%s is too short: use 100ms or more, such as \"1m\"", c.WritePin.D())
	}
}

// validateState checks a node's archive, state_window and methods keys.
func (nd *Node) validateState(path string, p *problems) {
	if nd.Archive != nil && *nd.Archive && nd.StateWindow > 0 {
		p.add(path+".state_window", "is set on an archive node, which keeps every state: remove state_window or set archive: false")
	}
	for _, e := range nd.Methods.Problems() {
		p.add(path+".methods."+e.Key, "%s", e.Message)
	}
}
