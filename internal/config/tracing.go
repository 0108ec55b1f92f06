package config

import (
	"github.com/evmgate/evmgate/internal/nodeurl"
	"net/url"
	"strings"
)

// Tracing is the tracing: section: OpenTelemetry spans of client requests
// and of their tries on nodes, sent to a collector over OTLP/HTTP.
type Tracing struct {
	// Enabled turns tracing on. Default false: no span is made.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP base URL (http:// or https://);
	// spans are posted to <endpoint>/v1/traces. Default: the
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
	// environment, else http://localhost:4318.
	Endpoint string `yaml:"endpoint"`
	// SampleRate is the share, 0 to 1, of the requests that start a trace
	// here that are traced. With TrustIncoming, a request whose traceparent
	// says its trace is sampled is always traced, one that says it is not
	// never is. Default 1.
	SampleRate *float64 `yaml:"sample_rate"`
	// TrustIncoming makes a client's traceparent the parent of the
	// gateway's spans and its sampled flag the sampling decision. Default
	// false: on a gateway open to the public any client could otherwise
	// have every one of its calls exported (collector cost, chosen by the
	// client) and graft spans into traces it names. Off, a request starts
	// a trace of its own, sampled at SampleRate, with a link to the
	// client's trace, as OpenTelemetry advises at an untrusted edge. Turn
	// it on when only trusted services (inside the cluster) call.
	TrustIncoming bool `yaml:"trust_incoming"`
	// ServiceName is the service.name of the spans. Default: the
	// OTEL_SERVICE_NAME environment, else "evmgate".
	ServiceName string `yaml:"service_name"`
	// Headers are sent with every export to the collector (an API key).
	Headers map[string]string `yaml:"headers"`
}

// DefaultTracingSampleRate is tracing.sample_rate's default.
const DefaultTracingSampleRate = 1.0

// Default fills the section's unset keys.
func (t *Tracing) Default() {
	if t.SampleRate == nil {
		r := DefaultTracingSampleRate
		t.SampleRate = &r
	}
}

func (t *Tracing) validate(p *problems) {
	if r := *t.SampleRate; !(r >= 0 && r <= 1) {
		p.add("tracing.sample_rate", "%v is not a share of requests: use a number from 0 (none, but with trust_incoming a request whose traceparent is sampled) to 1 (every request)", r)
	}
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			p.add("tracing.endpoint", "%q is not an http:// or https:// URL: write the collector's OTLP/HTTP address, such as http://otel-collector:4318", redactURL(t.Endpoint))
		case u.RawQuery != "" || u.Fragment != "":
			p.add("tracing.endpoint", "%q has a query or fragment (not shown: it may hold a key): write the collector's base URL, such as http://otel-collector:4318, and a key in tracing.headers", redactURL(t.Endpoint))
		}
	}
	for k := range t.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			p.add("tracing.headers", "%q is not a header name: use a name such as x-api-key", k)
		}
	}
}

// redactURL is a URL as an error may quote it: without credentials, query,
// fragment or key-like path segments.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return nodeurl.Redact(s) // no credentials, query, fragment or long (key-like) path segment
	}
	if strings.ContainsAny(s, "@?#") {
		return "(the URL, not shown: it may hold a key)"
	}
	return s
}
