package access

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
)

// storedKey is a runtime key as kept: its settings and the hash of its
// secret, never the secret.
type storedKey struct {
	Spec    KeySpec   `json:"spec"`
	Hash    string    `json:"sha256"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked,omitempty"`
	hash    [32]byte
}

func (k *storedKey) decode() error {
	b, err := hex.DecodeString(k.Hash)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("key %q: stored hash is not 64 hex digits", k.Spec.Name)
	}
	copy(k.hash[:], b)
	return nil
}

// keyStore keeps the runtime keys.
type keyStore interface {
	load(ctx context.Context) ([]storedKey, error)
	// update applies f to the stored keys atomically.
	update(ctx context.Context, f func([]storedKey) ([]storedKey, error)) ([]storedKey, error)
	// describe names the store in log lines.
	describe() string
}

// unavailableError is a store that did not give the keys (as opposed to
// one that gave what cannot be used).
type unavailableError struct{ err error }

func (u unavailableError) Error() string { return u.err.Error() }
func (u unavailableError) Unwrap() error { return u.err }

// NewFileStore keeps runtime keys in a JSON file (written atomically).
func NewFileStore(path string) keyStore { return &fileStore{path: path} }

// NewRedisStore keeps runtime keys in Redis, shared by every replica.
func NewRedisStore(rdb redis.UniversalClient, prefix string) keyStore {
	return &redisStore{rdb: rdb, key: prefix + "access:keys"}
}

type fileStore struct{ path string }

func (f *fileStore) describe() string { return f.path }

func (f *fileStore) load(context.Context) ([]storedKey, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeKeys(b)
}

// update is serialised by Access.mu: one process owns the file.
func (f *fileStore) update(ctx context.Context, fn func([]storedKey) ([]storedKey, error)) ([]storedKey, error) {
	keys, err := f.load(ctx)
	if err != nil {
		return nil, err
	}
	if keys, err = fn(keys); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(keys, "", "  ")
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".keys-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return keys, os.Rename(tmp.Name(), f.path)
}

type redisStore struct {
	rdb redis.UniversalClient
	key string
}

func (r *redisStore) describe() string { return "redis key " + r.key }

func (r *redisStore) load(ctx context.Context) ([]storedKey, error) {
	b, err := r.rdb.Get(ctx, r.key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
		// Redis did not give the keys: refused, timed out, or an error
		// that passes (LOADING after a restart, NOAUTH until a password
		// is fixed). WRONGTYPE is what it holds: not keys.
		return nil, unavailableError{err}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.key, err)
	}
	return decodeKeys(b)
}

// update is an optimistic transaction: retried when another replica
// changed the keys meanwhile.
func (r *redisStore) update(ctx context.Context, fn func([]storedKey) ([]storedKey, error)) ([]storedKey, error) {
	var out []storedKey
	for range 10 {
		err := r.rdb.Watch(ctx, func(tx *redis.Tx) error {
			keys, err := r.load(ctx)
			if err != nil {
				return err
			}
			if out, err = fn(keys); err != nil {
				return err
			}
			b, _ := json.Marshal(out)
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, r.key, b, 0)
				return nil
			})
			return err
		}, r.key)
		if !errors.Is(err, redis.TxFailedErr) {
			return out, err
		}
	}
	return nil, errors.New("the keys kept changing under this update: retry")
}

func decodeKeys(b []byte) ([]storedKey, error) {
	var keys []storedKey
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("reading stored keys: %w", err)
	}
	for i := range keys {
		if err := keys[i].decode(); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
