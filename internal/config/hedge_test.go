package config

import (
	"strings"
	"testing"
	"time"
)

func defaultHedge() Hedge {
	return Hedge{Quantile: DefaultHedgeQuantile, MinDelay: Duration(DefaultHedgeMinDelay), MaxDelay: Duration(DefaultHedgeMaxDelay)}
}

func defaultBreaker() CircuitBreaker {
	return CircuitBreaker{Enabled: ptr(true), Failures: DefaultBreakerFailures, FailureRatio: DefaultBreakerFailureRatio,
		Window: Duration(DefaultBreakerWindow), Cooldown: Duration(DefaultBreakerCooldown)}
}

// TestHedgeAndBreakerKeys: the keys are read, and unset ones take their
// defaults.
func TestHedgeAndBreakerKeys(t *testing.T) {
	yaml := "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://a:1}]\n" +
		"    hedge: {enabled: true, quantile: 0.9, max_delay: 300ms}\n" +
		"    circuit_breaker: {enabled: false, failures: 4}\n"
	cfg, err := Parse([]byte(yaml), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Networks[0]
	want := Hedge{Enabled: true, Quantile: 0.9, MinDelay: Duration(DefaultHedgeMinDelay), MaxDelay: Duration(300 * time.Millisecond)}
	if n.Hedge != want {
		t.Errorf("hedge: got %+v, want %+v", n.Hedge, want)
	}
	if n.CircuitBreaker.On() || n.CircuitBreaker.Failures != 4 || n.CircuitBreaker.Cooldown.D() != DefaultBreakerCooldown {
		t.Errorf("circuit_breaker: got %+v", n.CircuitBreaker)
	}
}

// TestHedgeAndBreakerValidation: each bad value is reported under its key
// path, with the fix.
func TestHedgeAndBreakerValidation(t *testing.T) {
	net := func(extra string) string {
		return "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://a:1}]\n" + extra
	}
	tests := []struct {
		name string
		yaml string
		want []string // the first is the key path
	}{
		{"quantile", net("    hedge: {quantile: 1.5}\n"), []string{"networks[0].hedge.quantile", "between 0.5 and 0.999"}},
		{"min delay", net("    hedge: {min_delay: 10us}\n"), []string{"networks[0].hedge.min_delay", "1ms or more"}},
		{"max below min", net("    hedge: {min_delay: 200ms, max_delay: 100ms}\n"), []string{"networks[0].hedge.max_delay", "below min_delay", "raise max_delay"}},
		{"failures", net("    circuit_breaker: {failures: -1}\n"), []string{"networks[0].circuit_breaker.failures", "at least 1"}},
		{"ratio", net("    circuit_breaker: {failure_ratio: 2}\n"), []string{"networks[0].circuit_breaker.failure_ratio", "at most 1"}},
		{"window", net("    circuit_breaker: {window: 5ms}\n"), []string{"networks[0].circuit_breaker.window", "100ms or more"}},
		{"cooldown", net("    circuit_breaker: {cooldown: 1ms}\n"), []string{"networks[0].circuit_breaker.cooldown", "10ms or more"}},
		{"unknown key", net("    hedge: {quantil: 0.9}\n"), []string{`unknown key "quantil" in networks[0].hedge`, `did you mean "quantile"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), noEnv)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
