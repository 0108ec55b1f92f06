package tracing

import (
	"maps"
	"strings"
	"testing"
)

func TestParseKeyValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     map[string]string
		errHas   []string // "": no error
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "pairs and spaces", in: " a = 1 ,b=x%20y,, c=", want: map[string]string{"a": "1", "b": "x y", "c": ""}},
		{name: "value with =", in: "k=a=b", want: map[string]string{"k": "a=b"}},
		{name: "comma encoded", in: "k=a%2Cb", want: map[string]string{"k": "a,b"}},
		{name: "later wins", in: "k=1,k=2", want: map[string]string{"k": "2"}},
		{name: "no =", in: "a=1,foo", errHas: []string{"VAR", `"foo"`, "key=value", "separated by commas"}},
		{name: "no key", in: "=1", errHas: []string{"VAR", `"=1"`, "key=value"}},
		{name: "bad escape", in: "a=1,tenant=50%", errHas: []string{"VAR", `"tenant=50%"`, `value of "tenant"`, "%25"}},
	} {
		got, err := parseKeyValues("VAR", tc.in, "key")
		if tc.errHas == nil {
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("%s: %q: %v, %v; want %v", tc.name, tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: %q: no error, want one", tc.name, tc.in)
			continue
		}
		for _, s := range tc.errHas {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q: error %q does not say %s", tc.name, tc.in, err, s)
			}
		}
	}
}

// Both lists are read by the one parser: the same mistake is refused in
// each, naming the variable that holds it.
func TestKeyValueListsRefusedByName(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"foo", "a=50%"} {
		_, err := Check(Options{}, mapLookup{"OTEL_RESOURCE_ATTRIBUTES": v}.get)
		if err == nil || !strings.HasPrefix(err.Error(), "OTEL_RESOURCE_ATTRIBUTES: ") || !strings.Contains(err.Error(), "key=value") {
			t.Errorf("OTEL_RESOURCE_ATTRIBUTES=%q: %v", v, err)
		}
		for _, name := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
			_, err := Check(Options{}, mapLookup{name: v}.get)
			if err == nil || !strings.HasPrefix(err.Error(), name+": ") || !strings.Contains(err.Error(), "name=value") {
				t.Errorf("%s=%q: %v", name, v, err)
			}
		}
	}
	ec, err := Check(Options{}, mapLookup{"OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=a%2Cb", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod"}.get)
	if err != nil || ec.Headers["x-api-key"] != "a,b" {
		t.Errorf("valid lists: %v, headers %v", err, ec.Headers)
	}
}
