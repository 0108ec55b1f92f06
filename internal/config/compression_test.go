package config

import (
	"strings"
	"testing"
)

// TestResponseCompression: the section is on with 1024 bytes unless
// written; 0 compresses every answer; off is off; a reload takes it.
func TestResponseCompression(t *testing.T) {
	const nets = "networks:\n  - name: m\n    local_nodes: [{rpc_endpoint: http://a:1}]\n"
	for _, tt := range []struct {
		yaml    string
		enabled bool
		min     int
	}{
		{"", true, 1024},
		{"response_compression:\n  min_bytes: 0\n", true, 0},
		{"response_compression:\n  enabled: false\n", false, 1024},
		{"response_compression: {enabled: true, min_bytes: 4096}\n", true, 4096},
	} {
		cfg := mustParse(t, tt.yaml+nets)
		rc := cfg.ResponseCompression
		if *rc.Enabled != tt.enabled || *rc.MinBytes != tt.min {
			t.Errorf("%q: enabled %v min_bytes %d, want %v %d", tt.yaml, *rc.Enabled, *rc.MinBytes, tt.enabled, tt.min)
		}
	}
	old := mustParse(t, reloadBase)
	got, keys := Reloadable(old, mustParse(t, reloadBase+"response_compression: {enabled: false, min_bytes: 10}\n"))
	if len(keys) != 0 || *got.ResponseCompression.Enabled || *got.ResponseCompression.MinBytes != 10 {
		t.Fatalf("reload: restart keys %v, section %v %d", keys, *got.ResponseCompression.Enabled, *got.ResponseCompression.MinBytes)
	}
	_, err := Parse([]byte("response_compression:\n  min_byte: 10\n"+nets), noEnv)
	if err == nil || !strings.Contains(err.Error(), `unknown key "min_byte"`) || !strings.Contains(err.Error(), "min_bytes") {
		t.Fatalf("misspelt key: %v", err)
	}
}
