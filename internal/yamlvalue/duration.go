// Package yamlvalue holds the value types configuration files share across
// packages (config, ws), so each section decodes them the same way.
package yamlvalue

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in Go syntax ("500ms", "0.5s", "2m").
// A bare number is read as seconds, so `load_period: 1` style values work too.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration such as \"500ms\" or \"2s\"", n.Line)
	}
	if n.Value == "" {
		*d = 0
		return nil
	}
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil {
		ns := secs * float64(time.Second)
		if math.IsNaN(ns) || math.Abs(ns) >= math.MaxInt64 {
			return fmt.Errorf("line %d: %q is not a duration: write it like \"500ms\", \"2s\" or \"1m\"", n.Line, n.Value)
		}
		*d = Duration(ns)
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration: write it like \"500ms\", \"2s\" or \"1m\"", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
