package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, expands, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML text into a validated Config. lookup resolves ${VAR}.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	expanded, err := expandEnv(data, lookup)
	if err != nil {
		return nil, err
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty: it needs at least one entry under networks")
		}
		return nil, explainYAML(err)
	}
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandEnv replaces ${VAR} and ${VAR:-default}. A ${VAR} that is unset is an
// error: a provider URL with an empty key would fail later in a worse way.
func expandEnv(data []byte, lookup func(string) (string, bool)) ([]byte, error) {
	var missing []string
	out := envRef.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := envRef.FindSubmatch(m)
		name := string(sub[1])
		if v, ok := lookup(name); ok && v != "" {
			return []byte(v)
		}
		if len(sub[2]) > 0 {
			return sub[3]
		}
		missing = append(missing, name)
		return m
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("environment variable %s is not set: export it, or write ${%s:-default} for a default",
			strings.Join(missing, ", "), missing[0])
	}
	return out, nil
}

var (
	unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type config\.(\w+)`)
	typeNames    = map[string]string{"Config": "the top level", "Network": "a network", "Node": "a node", "Scheduler": "scheduler"}
)

// explainYAML rewrites yaml.v3's messages into ones that name the key and say
// what to do.
func explainYAML(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("reading YAML: %w", err)
	}
	lines := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			where := typeNames[m[3]]
			if where == "" {
				where = m[3]
			}
			lines = append(lines, fmt.Sprintf("line %s: unknown key %q in %s: check its spelling against the configuration reference in README.md", m[1], m[2], where))
			continue
		}
		lines = append(lines, e)
	}
	return errors.New(strings.Join(lines, "\n"))
}
