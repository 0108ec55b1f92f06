package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/evmgate/evmgate/internal/nodeurl"
)

// store keeps the runtime changes of every network.
type store interface {
	// load returns the current changes. last is what the registry knew
	// before; a store that lost its data may restore it from last.
	load(ctx context.Context, last *state) (*state, error)
	// add records network's node; false means the node is already there.
	add(ctx context.Context, network, uri string, a added, configured bool) (bool, error)
	// remove records the removal of network's node uri.
	remove(ctx context.Context, network, uri string) error
	// describe names the store in messages.
	describe() string
	close() error
}

// localStore keeps the changes in memory and, when path is set, in a file
// rewritten after every change.
type localStore struct {
	path string

	mu     sync.Mutex // mu protects st and loaded
	st     *state
	loaded bool
}

var _ store = (*localStore)(nil)

func newLocalStore(path string) *localStore { return &localStore{path: path, st: newState()} }

func (s *localStore) describe() string {
	if s.path == "" {
		return "memory"
	}
	return "state file " + s.path
}

func (s *localStore) close() error { return nil }

func (s *localStore) load(context.Context, *state) (*state, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded && s.path != "" {
		st, err := readStateFile(s.path)
		if err != nil {
			return nil, err
		}
		s.st = st
	}
	s.loaded = true
	return s.st.clone(), nil
}

func (s *localStore) add(_ context.Context, network, uri string, a added, configured bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.st.clone()
	c := next.net(network)
	_, wasRemoved := c.Removed[uri]
	_, wasAdded := c.Added[uri]
	if !wasRemoved && (configured || wasAdded) {
		return false, nil
	}
	a.Seq = next.maxSeq() + 1
	delete(c.Removed, uri)
	if !configured {
		c.Added[uri] = a
	}
	return true, s.commit(next)
}

func (s *localStore) remove(_ context.Context, network, uri string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.st.clone()
	c := next.net(network)
	delete(c.Added, uri)
	c.Removed[uri] = next.maxSeq() + 1
	return s.commit(next)
}

// commit makes next the state, once it is on disk.
func (s *localStore) commit(next *state) error {
	if s.path != "" {
		if err := writeStateFile(s.path, next); err != nil {
			return err
		}
	}
	s.st = next
	return nil
}

// stateFile is the state file's JSON document (see doc.go).
type stateFile struct {
	Format   int                    `json:"format"`
	Epoch    string                 `json:"epoch,omitempty"`
	Networks map[string]fileNetwork `json:"networks"`
}

type fileNetwork struct {
	Added   []fileAdded   `json:"added"`
	Removed []fileRemoved `json:"removed"`
}

type fileAdded struct {
	URI string `json:"uri"`
	added
}

type fileRemoved struct {
	URI string `json:"uri"`
	Seq int64  `json:"seq"`
}

const stateFormat = 1

// readStateFile reads path; a missing file is an empty state.
func readStateFile(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return newState(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("reading state file %s: %w", path, err)
	}
	if f.Format != stateFormat {
		return nil, fmt.Errorf("reading state file %s: format %d, this evmgate reads format %d", path, f.Format, stateFormat)
	}
	st := newState()
	st.Epoch = f.Epoch
	for name, fn := range f.Networks {
		c := st.net(name)
		for _, a := range fn.Added {
			if checkURI(a.URI) != nil || checkTier(a.Tier) != nil {
				return nil, fmt.Errorf("reading state file %s: network %q: invalid node %q", path, name, nodeurl.Redact(a.URI))
			}
			c.Added[a.URI] = a.added
		}
		for _, r := range fn.Removed {
			c.Removed[r.URI] = r.Seq
		}
	}
	return st, nil
}

// writeStateFile replaces path with st atomically: a temporary file in the
// same directory is written, synced and renamed over it.
func writeStateFile(path string, st *state) error {
	f := stateFile{Format: stateFormat, Epoch: st.Epoch, Networks: map[string]fileNetwork{}}
	for name, c := range st.Networks {
		fn := fileNetwork{Added: []fileAdded{}, Removed: []fileRemoved{}}
		for uri, a := range c.Added {
			fn.Added = append(fn.Added, fileAdded{URI: uri, added: a})
		}
		for uri, seq := range c.Removed {
			fn.Removed = append(fn.Removed, fileRemoved{URI: uri, Seq: seq})
		}
		slices.SortFunc(fn.Added, func(a, b fileAdded) int { return cmp.Compare(a.Seq, b.Seq) })
		slices.SortFunc(fn.Removed, func(a, b fileRemoved) int { return cmp.Compare(a.Seq, b.Seq) })
		f.Networks[name] = fn
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing state file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	return nil
}
