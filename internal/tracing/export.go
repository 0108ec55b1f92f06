package tracing

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evmgate/evmgate/internal/nodeurl"
	"github.com/klauspost/compress/gzip"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultTimeout bounds one export, its retries included, when neither
// OTEL_EXPORTER_OTLP_TRACES_TIMEOUT nor OTEL_EXPORTER_OTLP_TIMEOUT sets it.
const DefaultTimeout = 10 * time.Second

// exportTries is how many times a batch is posted when the collector is
// busy or unreachable; the export's timeout ends the retries sooner.
const exportTries = 4

// firstBackoff is the wait before the first retry; it doubles after each.
const firstBackoff = 200 * time.Millisecond

// exportConfig is where and how spans are posted.
type exportConfig struct {
	URL       string            // the full URL, ending /v1/traces unless the environment named another
	Headers   map[string]string // sent with every export
	Timeout   time.Duration     // of one export, retries included
	Gzip      bool              // the body is gzip-compressed
	RootCAs   *x509.CertPool    // nil: the system's
	UserAgent string            // User-Agent
}

// exporter posts spans to an OTLP/HTTP collector as protobuf. It is the
// batch span processor's SpanExporter: calls come from one goroutine.
type exporter struct {
	cfg     exportConfig
	client  *http.Client
	stopped atomic.Bool
}

func newExporter(cfg exportConfig) *exporter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.MaxIdleConnsPerHost = 2
	if cfg.RootCAs != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return &exporter{cfg: cfg, client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// ExportSpans posts spans in one request, retrying a busy or unreachable
// collector within the export's timeout. A refused export is an error,
// which the SDK hands to the error handler; the spans are dropped.
func (e *exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 || e.stopped.Load() {
		return nil
	}
	body, err := encodeRequest(spans)
	if err != nil {
		return fmt.Errorf("encoding spans: %w", err)
	}
	if e.cfg.Gzip {
		if body, err = gzipped(body); err != nil {
			return fmt.Errorf("compressing spans: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	wait := firstBackoff
	for try := 1; ; try++ {
		retryAfter, err := e.post(ctx, body)
		if err == nil {
			return nil
		}
		var re retryable
		if !errors.As(err, &re) || try == exportTries || ctx.Err() != nil {
			return err
		}
		if retryAfter > 0 {
			wait = retryAfter
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}

// gzipWriters hold gzip writers between exports: a writer's compressor
// state is over a megabyte, made anew on every export before. A pool
// rather than one writer per exporter keeps concurrent exports apart.
var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

// gzipped is body gzip-compressed, in a new slice: the request may still
// hold it after the export returns (the transport closes a request's body
// in its own time), so only the writer is reused.
func gzipped(body []byte) ([]byte, error) {
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	buf := bytes.NewBuffer(make([]byte, 0, len(body)/4+64))
	zw.Reset(buf)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	zw.Reset(io.Discard) // hold no reference to buf while pooled
	return buf.Bytes(), nil
}

// retryable is an export failure worth another try: the collector was
// unreachable or answered 429, 502, 503 or 504.
type retryable struct{ error }

func (r retryable) Unwrap() error { return r.error }

// post sends body once. A retryable failure comes with the wait the
// collector asked for in Retry-After, if any.
func (e *exporter) post(ctx context.Context, body []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	for k, v := range e.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", e.cfg.UserAgent)
	if e.cfg.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		err = nodeurl.Cause(err) // the URL may hold credentials: name the failure only
		if ctx.Err() != nil {
			return 0, fmt.Errorf("posting spans: %w", err)
		}
		return 0, retryable{fmt.Errorf("posting spans: %w", err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return 0, nil
	}
	err = fmt.Errorf("the collector answered %s", resp.Status)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return retryAfterOf(resp.Header.Get("Retry-After")), retryable{err}
	}
	return 0, err
}

// retryAfterOf is a Retry-After header's wait: seconds or an HTTP date;
// 0 when absent or unreadable.
func retryAfterOf(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Shutdown stops exports; the SDK has flushed what it held before.
func (e *exporter) Shutdown(ctx context.Context) error {
	e.stopped.Store(true)
	e.client.CloseIdleConnections()
	return nil
}

// exportConfigOf resolves cfg and the OTLP environment (lookup) into where
// and how spans are posted. The traces-only variables win over the
// general ones; tracing.endpoint wins over both, and tracing.headers over
// the environment's headers of the same name.
func exportConfigOf(cfg Options, lookup func(string) (string, bool)) (exportConfig, error) {
	env := func(name string) (string, string) {
		for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_" + name, "OTEL_EXPORTER_OTLP_" + name} {
			if v, ok := lookup(k); ok && strings.TrimSpace(v) != "" {
				return k, strings.TrimSpace(v)
			}
		}
		return "", ""
	}
	out := exportConfig{Timeout: DefaultTimeout, Headers: map[string]string{}, UserAgent: "evmgate"}
	if cfg.Version != "" {
		out.UserAgent += "/" + cfg.Version
	}
	var err error
	if out.URL, err = Endpoint(cfg, lookup); err != nil {
		return out, err
	}
	if k, v := env("HEADERS"); k != "" {
		if out.Headers, err = parseKeyValues(k, v, "name"); err != nil {
			return out, err
		}
	}
	for name, val := range cfg.Headers {
		out.Headers[name] = val
	}
	if k, v := env("TIMEOUT"); k != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return out, fmt.Errorf("%s: %q is not a timeout in milliseconds, such as 10000", k, v)
		}
		out.Timeout = time.Duration(ms) * time.Millisecond
	}
	if k, v := env("COMPRESSION"); k != "" {
		switch strings.ToLower(v) {
		case "gzip":
			out.Gzip = true
		case "none":
		default:
			return out, fmt.Errorf("%s: %q is not a compression: use gzip or none", k, v)
		}
	}
	if k, v := env("PROTOCOL"); k != "" && v != "http/protobuf" {
		// Spans sent as HTTP to a gRPC port would fail for ever.
		return out, fmt.Errorf("%s: %q is not spoken here: evmgate sends OTLP over HTTP (http/protobuf, port 4318 by default); unset it or point the endpoint at the collector's OTLP/HTTP receiver", k, v)
	}
	if k, v := env("CERTIFICATE"); k != "" {
		pem, err := os.ReadFile(v)
		if err != nil {
			return out, fmt.Errorf("%s: %w", k, err)
		}
		out.RootCAs = x509.NewCertPool()
		if !out.RootCAs.AppendCertsFromPEM(pem) {
			return out, fmt.Errorf("%s: %s holds no PEM certificate", k, v)
		}
	}
	return out, nil
}

// Endpoint is the URL spans are posted to: tracing.endpoint with
// /v1/traces appended; else OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is;
// else OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended; else
// DefaultEndpoint's.
func Endpoint(cfg Options, lookup func(string) (string, bool)) (string, error) {
	base, name := cfg.Endpoint, "tracing.endpoint"
	if base == "" {
		if v, ok := lookup("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); ok && strings.TrimSpace(v) != "" {
			return checkURL("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", strings.TrimSpace(v))
		}
		base, name = DefaultEndpoint, "default endpoint"
		if v, ok := lookup("OTEL_EXPORTER_OTLP_ENDPOINT"); ok && strings.TrimSpace(v) != "" {
			base, name = strings.TrimSpace(v), "OTEL_EXPORTER_OTLP_ENDPOINT"
		}
	}
	u, err := checkURL(name, base)
	if err != nil {
		return "", err
	}
	pu, _ := url.Parse(u)
	if !strings.HasSuffix(pu.Path, "/v1/traces") {
		pu.Path = strings.TrimSuffix(pu.Path, "/") + "/v1/traces"
		pu.RawPath = ""
	}
	return pu.String(), nil
}

// checkURL refuses what is not an http:// or https:// URL with a host.
func checkURL(name, v string) (string, error) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s: not an http:// or https:// URL: write the collector's OTLP/HTTP address, such as http://otel-collector:4318", name)
	}
	return v, nil
}
