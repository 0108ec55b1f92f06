package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, expands, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) { return load(path, true) }

// LoadReload is Load for a reload of a running gateway: the files that the
// attestation section names are not read. That section only changes on
// restart, so the gateway keeps what it read at start, and a root file
// moved or removed since (a Kubernetes secret remounted) must not refuse a
// reload that changes something else. evmgate validate still reads them.
func LoadReload(path string) (*Config, error) { return load(path, false) }

func load(path string, attestationFiles bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := parse(data, os.LookupEnv, attestationFiles)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes YAML text into a validated Config. lookup resolves ${VAR}.
//
// The text is parsed first and ${VAR} is expanded in scalar values only, so a
// comment may mention ${VAR} freely and a variable's value can never change
// the file's structure. Line numbers in errors are those of the file.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return parse(data, lookup, true)
}

// parse is Parse; attestationFiles false leaves the attestation section's
// files unread (see LoadReload).
func parse(data []byte, lookup func(string) (string, bool), attestationFiles bool) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, explainYAML(err)
	}
	if doc.Kind == 0 || (doc.Kind == yaml.DocumentNode && len(doc.Content) == 0) {
		return nil, errors.New("the file is empty: it needs at least one entry under networks")
	}
	if err := expandTree(&doc, lookup); err != nil {
		return nil, err
	}
	lines, err := checkKeys(&doc)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := doc.Decode(&cfg); err != nil {
		return nil, withKeyPaths(explainYAML(err), lines)
	}
	cfg.Default()
	if err := cfg.validate(attestationFiles); err != nil {
		return nil, err
	}
	return &cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandTree expands ${VAR} and ${VAR:-default} in every scalar value of the
// tree (keys are left alone). A plain scalar that held a reference has its
// tag resolved again from the expanded text, so `port: ${PORT:-8080}` is a
// number; a quoted one stays a string.
func expandTree(n *yaml.Node, lookup func(string) (string, bool)) error {
	var missing, where []string // each variable once, with the line it is first on
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		if n.Kind == yaml.ScalarNode && !isKey && strings.Contains(n.Value, "${") {
			out, miss := expandEnv(n.Value, lookup)
			for _, m := range miss {
				if !slices.Contains(missing, m) {
					missing = append(missing, m)
					where = append(where, fmt.Sprintf("%s (line %d)", m, n.Line))
				}
			}
			if out != n.Value && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle|yaml.TaggedStyle) == 0 {
				n.Tag = ""
			}
			n.Value = out
		}
		for i, c := range n.Content {
			walk(c, n.Kind == yaml.MappingNode && i%2 == 0)
		}
	}
	walk(n, false)
	switch len(missing) {
	case 0:
	case 1:
		return fmt.Errorf("environment variable %s is not set (or is empty): export it, or write ${%s:-default} for a default",
			where[0], missing[0])
	default:
		return fmt.Errorf("environment variables %s are not set (or are empty): export them, or give each a default, as ${%s:-default}",
			strings.Join(where, ", "), missing[0])
	}
	return nil
}

// expandEnv replaces ${VAR} and ${VAR:-default} in s and returns the names
// of referenced variables that are unset or empty and have no default: a
// provider URL with an empty key would fail later in a worse way.
func expandEnv(s string, lookup func(string) (string, bool)) (string, []string) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v, ok := lookup(sub[1]); ok && v != "" {
			return v
		}
		if sub[2] != "" {
			return sub[3]
		}
		missing = append(missing, sub[1])
		return m
	})
	return out, missing
}

var (
	lineRef   = regexp.MustCompile(`(?m)^(?:reading YAML: )?line (\d+): .*$`)
	typeName  = regexp.MustCompile(`\bconfig\.(\w+)`)
	typeNames = map[string]string{"Config": "the top level", "Network": "a network", "Node": "a node", "Scheduler": "scheduler", "Duration": "a duration", "Port": "a port"}
)

// explainYAML rewrites yaml.v3's messages so they speak of the file, not of
// Go types.
func explainYAML(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("reading YAML: %w", err)
	}
	lines := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		lines = append(lines, typeName.ReplaceAllStringFunc(e, func(m string) string {
			if s, ok := typeNames[strings.TrimPrefix(m, "config.")]; ok {
				return s
			}
			return m
		}))
	}
	return errors.New(strings.Join(lines, "\n"))
}

// withKeyPaths appends the key path to each "line N: ..." message of err.
func withKeyPaths(err error, lines map[int]string) error {
	msg := lineRef.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := lineRef.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		if path := lines[n]; path != "" {
			return m + " (key " + path + ")"
		}
		return m
	})
	return errors.New(msg)
}
