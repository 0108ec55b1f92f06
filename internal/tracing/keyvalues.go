package tracing

import (
	"fmt"
	"net/url"
	"strings"
)

// parseKeyValues reads a list such as OTEL_RESOURCE_ATTRIBUTES or
// OTEL_EXPORTER_OTLP_HEADERS holds: key=value pairs separated by commas,
// spaces around keys and values ignored, values percent-decoded (the
// OpenTelemetry specification's "Specifying headers via environment
// variables" and resource "Specifying resource information via an
// environment variable"). A later pair wins over an earlier one with the
// same key. variable names the list in errors, and keyWord what its keys
// are ("key" for attributes, "name" for headers), so that an error says
// which variable is wrong, at which pair, and how to write it.
func parseKeyValues(variable, v, keyWord string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not %s=value (pairs separated by commas, values URL-encoded)", variable, kv, keyWord)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not %s=value: the value of %q is not URL-encoded (write %%25 for a %% sign, %%2C for a comma)", variable, kv, keyWord, k)
		}
		out[k] = dv
	}
	return out, nil
}
