package config

import (
	"fmt"
	"strconv"

	"github.com/evmgate/evmgate/internal/yamlvalue"
	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in Go syntax ("500ms", "0.5s", "2m");
// a bare number is seconds.
type Duration = yamlvalue.Duration

// Port is a TCP port written as a number or a string ("8080"). -1 is kept
// as written: metrics_port uses it to turn its listener off.
type Port int

// UnmarshalYAML implements yaml.Unmarshaler.
func (p *Port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a port number", n.Line)
	}
	if n.Value == "" {
		*p = 0
		return nil
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < -1 || v > 65535 {
		return fmt.Errorf("line %d: %q is not a port: use a number from 1 to 65535", n.Line, n.Value)
	}
	*p = Port(v)
	return nil
}
