package config

import "time"

// Hedge is a network's hedging of slow reads: when a try takes longer than
// its node's recent Quantile for the method (between MinDelay and
// MaxDelay), one copy goes to the next best node and the first good answer
// wins. Off by default: each copy is one more call, which a pay-per-call
// provider bills and a saturated node feels.
type Hedge struct {
	// Enabled turns hedging on for the network's reads. Default false.
	Enabled bool `yaml:"enabled"`
	// Quantile of a node's recent answer times per method after which a
	// copy is sent, between 0.5 and 0.999. Default 0.95.
	Quantile float64 `yaml:"quantile"`
	// MinDelay is the least wait before a copy. Default 20ms.
	MinDelay Duration `yaml:"min_delay"`
	// MaxDelay is the most wait before a copy, and the wait while a node
	// has answered a method fewer than 20 times. Default 1s.
	MaxDelay Duration `yaml:"max_delay"`
}

// CircuitBreaker is a network's per-node circuit breaker, fed by call
// outcomes: when the last Window holds at least Failures failed calls on a
// node and they are at least FailureRatio of its calls, the node gets no
// calls for Cooldown; then one trial call decides.
type CircuitBreaker struct {
	// Enabled: false turns the breakers off. Default true.
	Enabled *bool `yaml:"enabled"`
	// Failures is the least number of failed calls in Window that opens a
	// node's breaker. Default 10.
	Failures int `yaml:"failures"`
	// FailureRatio is the least share of failed calls in Window that opens
	// it, above 0 and at most 1. Default 0.5.
	FailureRatio float64 `yaml:"failure_ratio"`
	// Window is the rolling window calls are counted over. Default 10s.
	Window Duration `yaml:"window"`
	// Cooldown is how long an open breaker keeps its node out before a
	// trial call. Default 5s.
	Cooldown Duration `yaml:"cooldown"`
}

// Hedging and breaker defaults.
const (
	DefaultHedgeQuantile       = 0.95
	DefaultHedgeMinDelay       = 20 * time.Millisecond
	DefaultHedgeMaxDelay       = time.Second
	DefaultBreakerFailures     = 10
	DefaultBreakerFailureRatio = 0.5
	DefaultBreakerWindow       = 10 * time.Second
	DefaultBreakerCooldown     = 5 * time.Second
)

// Default fills the unset hedging keys.
func (h *Hedge) Default() {
	setIf(&h.Quantile, 0, DefaultHedgeQuantile)
	setIf(&h.MinDelay, 0, Duration(DefaultHedgeMinDelay))
	setIf(&h.MaxDelay, 0, Duration(DefaultHedgeMaxDelay))
}

// Default fills the unset breaker keys.
func (b *CircuitBreaker) Default() {
	if b.Enabled == nil {
		on := true
		b.Enabled = &on
	}
	setIf(&b.Failures, 0, DefaultBreakerFailures)
	setIf(&b.FailureRatio, 0, DefaultBreakerFailureRatio)
	setIf(&b.Window, 0, Duration(DefaultBreakerWindow))
	setIf(&b.Cooldown, 0, Duration(DefaultBreakerCooldown))
}

// On reports whether the breakers are on.
func (b *CircuitBreaker) On() bool { return b.Enabled == nil || *b.Enabled }

func (h *Hedge) validate(path string, p *problems) {
	if h.Quantile < 0.5 || h.Quantile > 0.999 {
		p.add(path+".quantile", "%g is out of range: use a quantile between 0.5 and 0.999, e.g. 0.95", h.Quantile)
	}
	if h.MinDelay.D() < time.Millisecond {
		p.add(path+".min_delay", "%s is too short: use 1ms or more, e.g. \"20ms\"", h.MinDelay.D())
	}
	if h.MaxDelay.D() < h.MinDelay.D() {
		p.add(path+".max_delay", "%s is below min_delay %s: raise max_delay or lower min_delay", h.MaxDelay.D(), h.MinDelay.D())
	}
}

func (b *CircuitBreaker) validate(path string, p *problems) {
	if b.Failures < 1 {
		p.add(path+".failures", "must be at least 1 failed call")
	}
	if b.FailureRatio <= 0 || b.FailureRatio > 1 {
		p.add(path+".failure_ratio", "%g is out of range: use a share above 0 and at most 1, e.g. 0.5", b.FailureRatio)
	}
	if b.Window.D() < 100*time.Millisecond {
		p.add(path+".window", "%s is too short: use 100ms or more, e.g. \"10s\"", b.Window.D())
	}
	if b.Cooldown.D() < 10*time.Millisecond {
		p.add(path+".cooldown", "%s is too short: use 10ms or more, e.g. \"5s\"", b.Cooldown.D())
	}
}
