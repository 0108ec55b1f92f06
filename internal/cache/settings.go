package cache

import (
	"errors"
	"fmt"
	"strings"
)

// Settings is the top-level cache: section of the configuration file.
type Settings struct {
	// Enabled turns the response cache and in-flight dedup on. Default true.
	// A network's own cache: false turns both off for that network.
	Enabled *bool `yaml:"enabled"`
	// MaxBytes bounds the memory the cache holds, keys and answers.
	// Default 256 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxItemBytes is the largest answer kept (or shared while in flight);
	// larger answers pass through untouched. Default 2 MiB.
	MaxItemBytes int `yaml:"max_item_bytes"`
	// Dedup makes identical reads in flight at the same time share one
	// upstream call. Default true.
	Dedup *bool `yaml:"dedup"`
}

// The defaults.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultMaxItemBytes = 2 << 20
)

// Default fills unset keys.
func (s *Settings) Default() {
	t := true
	if s.Enabled == nil {
		s.Enabled = &t
	}
	if s.Dedup == nil {
		s.Dedup = &t
	}
	if s.MaxBytes == 0 {
		s.MaxBytes = DefaultMaxBytes
	}
	if s.MaxItemBytes == 0 {
		s.MaxItemBytes = DefaultMaxItemBytes
	}
}

// Validate checks defaulted settings; each problem names its key and fix.
func (s *Settings) Validate() error {
	var p []string
	if s.MaxBytes < 1<<20 {
		p = append(p, fmt.Sprintf("cache.max_bytes: %d is too small: use at least 1048576 (1 MiB)", s.MaxBytes))
	}
	if s.MaxItemBytes < 1024 {
		p = append(p, fmt.Sprintf("cache.max_item_bytes: %d is too small: use at least 1024", s.MaxItemBytes))
	} else if int64(s.MaxItemBytes) > s.MaxBytes/4 {
		p = append(p, fmt.Sprintf("cache.max_item_bytes: %d is over a quarter of cache.max_bytes (%d): lower it or raise max_bytes", s.MaxItemBytes, s.MaxBytes))
	}
	if len(p) == 0 {
		return nil
	}
	return errors.New(strings.Join(p, "\n"))
}

// Config turns defaulted settings into the store's.
func (s *Settings) Config() Config {
	return Config{MaxBytes: uint64(s.MaxBytes), MaxItemBytes: s.MaxItemBytes, Dedup: *s.Dedup}
}
