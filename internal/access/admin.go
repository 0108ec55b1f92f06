package access

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"slices"
	"time"
)

// syncInterval is how often runtime keys are re-read from the store, so
// every replica sees another's changes.
const syncInterval = 2 * time.Second

// Start reads the runtime keys and keeps re-reading them until ctx ends.
// It returns at once when no store is set.
//
// A store that does not give the keys (Redis down, loading, refusing the
// password) is not an error: the keys of the file serve alone, a warning
// says so once, and the stored keys apply when the store gives them. What
// the store gives but cannot be used (malformed JSON, a bad hash, a secret
// shared with another key, a Redis value that is not a string) is an error
// that names it: serving without those keys could open a gateway they
// keep keyed, and the fix is the operator's.
func (a *Access) Start(ctx context.Context) error {
	if a.store == nil {
		return nil
	}
	down := false
	if err := a.sync(ctx); err != nil {
		var u unavailableError
		if !errors.As(err, &u) {
			return fmt.Errorf("reading runtime API keys: %w", err)
		}
		down = true
		a.startUnread()
		a.warnDown(err, true)
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		t := time.NewTicker(syncInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				wasOpen := a.Open()
				err := a.sync(ctx)
				switch {
				case ctx.Err() != nil:
				case err != nil && !down:
					down = true
					a.warnDown(err, false)
				case err == nil && down:
					down = false
					a.log.Info("runtime API keys read again: the key store answers", "store", a.store.describe())
					if wasOpen && !a.Open() {
						a.log.Warn("client access now requires an API key or a token: runtime keys exist and access.require_key is not set, " +
							"so calls without a key get 401; set access.require_key: false to keep serving them")
					}
				}
			}
		}
	}()
	return nil
}

// warnDown logs, once per outage, that the stored keys could not be read.
func (a *Access) warnDown(err error, starting bool) {
	msg := "runtime API keys not re-read; serving with the keys last read until the key store gives them"
	if starting {
		msg = "runtime API keys not read at start; serving with the keys of the file alone until the key store gives them"
		a.mu.Lock()
		implicit := a.cfg.RequireKey == nil
		a.mu.Unlock()
		if implicit && a.Open() {
			// Runtime keys could make it keyed: until they are read, calls
			// without a key are refused rather than let through unchecked.
			msg += " (calls without a key are refused with 503 until then: set access.require_key: false to serve them meanwhile, or true to require a key always)"
		}
	}
	a.log.Warn(msg, "store", a.store.describe(), "err", err)
}

// Close stops re-reading the runtime keys and waits for it.
func (a *Access) Close() {
	if a.cancel != nil {
		a.cancel()
	}
	a.wg.Wait()
}

func (a *Access) sync(ctx context.Context) error {
	keys, err := a.store.load(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	same := !a.unread && reflect.DeepEqual(keys, a.runtime)
	a.mu.Unlock()
	if same {
		return nil // nothing changed: no new snapshot, so open sockets need not check their keys again
	}
	return a.setRuntime(keys)
}

func (a *Access) setRuntime(keys []storedKey) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, err := build(a.cfg, keys)
	if err != nil {
		return err
	}
	a.runtime, a.unread = keys, false
	a.publish(a.marked(s))
	return nil
}

// startUnread records that the key store did not give the runtime keys at
// start: until it does, calls without a key are refused (errKeysUnread)
// unless the configuration says whether a key is required.
func (a *Access) startUnread() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unread = true
	s := *a.snap.Load()
	a.publish(a.marked(&s))
}

// keyView is a key as the admin API shows it: never the secret, nor its hash.
type keyView struct {
	KeySpec
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked,omitempty"`
	Source  string    `json:"source"` // "config" or "runtime"
	// Key is the secret, shown once: when created or rotated.
	Key string `json:"key,omitempty"`
}

// Handler serves the key routes of the admin API: GET/POST /admin/keys,
// POST /admin/keys/{name}/rotate, DELETE /admin/keys/{name}.
func (a *Access) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/keys", a.serveList)
	mux.HandleFunc("POST /admin/keys", a.serveCreate)
	mux.HandleFunc("POST /admin/keys/{name}/rotate", a.serveRotate)
	mux.HandleFunc("DELETE /admin/keys/{name}", a.serveRevoke)
	return mux
}

func (a *Access) serveList(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	out := make([]keyView, 0, len(a.cfg.Keys)+len(a.runtime))
	for _, k := range a.cfg.Keys {
		k.Key, k.KeySHA256 = "", ""
		out = append(out, keyView{KeySpec: k, Source: "config"})
	}
	for _, k := range a.runtime {
		out = append(out, keyView{KeySpec: k.Spec, Created: k.Created, Revoked: k.Revoked, Source: "runtime"})
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": out})
}

func (a *Access) serveCreate(w http.ResponseWriter, r *http.Request) {
	if a.store == nil {
		writeJSON(w, http.StatusConflict, errBody("runtime keys need admin.state_file or admin.redis_url: set one, or define keys under access.keys"))
		return
	}
	// A misspelt setting is refused: "limt" ignored would make a key
	// without a limit. What GET /admin/keys shows besides the settings is
	// accepted and ignored, so a listed key can be posted again.
	var body struct {
		KeySpec
		Created json.RawMessage `json:"created"`
		Revoked json.RawMessage `json:"revoked"`
		Source  json.RawMessage `json:"source"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&body); err == nil && dec.Decode(new(json.RawMessage)) != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	spec := body.KeySpec
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("the body is not a key's JSON settings: "+err.Error()))
		return
	}
	secret := NewSecret()
	spec.Key, spec.KeySHA256 = secret, ""
	if errs := spec.validate(); len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, errBody(errs[0].key+": "+errs[0].msg))
		return
	}
	spec.Key = ""
	if exp, _ := time.Parse(time.RFC3339, spec.Expires); spec.Expires != "" && !exp.After(time.Now()) {
		writeJSON(w, http.StatusBadRequest, errBody("expires: "+spec.Expires+" is past: give a time to come, or none"))
		return
	}
	if a.nets != nil {
		known := a.nets()
		for _, n := range spec.Networks {
			if !slices.Contains(known, n) {
				writeJSON(w, http.StatusBadRequest, errBody(fmt.Sprintf("networks: no network is named %q: use one of %v", Clip(n), known)))
				return
			}
		}
	}
	h := Hash(secret)
	sk := storedKey{Spec: spec, Hash: hex.EncodeToString(h[:]), Created: time.Now().UTC(), hash: h}
	status, err := a.change(r.Context(), func(keys []storedKey) ([]storedKey, error) {
		if a.named(keys, spec.Name) {
			return nil, errConflict
		}
		return append(keys, sk), nil
	})
	if err != nil {
		writeJSON(w, status, errBody(err.Error()))
		return
	}
	a.log.Info("api key created", "key", spec.Name)
	writeJSON(w, http.StatusCreated, keyView{KeySpec: spec, Created: sk.Created, Source: "runtime", Key: secret})
}

var (
	errConflict = errors.New("a key of that name exists: choose another name, or rotate it")
	errNoKey    = errors.New("no runtime key of that name (keys of the configuration file change there)")
)

// named reports whether a live key of the file or of keys has name.
func (a *Access) named(keys []storedKey, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.ContainsFunc(a.cfg.Keys, func(k KeySpec) bool { return k.Name == name }) ||
		slices.ContainsFunc(keys, func(k storedKey) bool { return k.Spec.Name == name && !k.Revoked })
}

func (a *Access) serveRotate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	secret := NewSecret()
	h := Hash(secret)
	var view keyView
	status, err := a.change(r.Context(), func(keys []storedKey) ([]storedKey, error) {
		i := slices.IndexFunc(keys, func(k storedKey) bool { return k.Spec.Name == name && !k.Revoked })
		if i < 0 {
			return nil, errNoKey
		}
		old := keys[i]
		old.Revoked = true
		keys[i] = storedKey{Spec: old.Spec, Hash: hex.EncodeToString(h[:]), Created: time.Now().UTC(), hash: h}
		view = keyView{KeySpec: old.Spec, Created: keys[i].Created, Source: "runtime", Key: secret}
		return append(keys, old), nil
	})
	if err != nil {
		writeJSON(w, status, errBody(err.Error()))
		return
	}
	a.log.Info("api key rotated", "key", name)
	writeJSON(w, http.StatusOK, view)
}

func (a *Access) serveRevoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	status, err := a.change(r.Context(), func(keys []storedKey) ([]storedKey, error) {
		i := slices.IndexFunc(keys, func(k storedKey) bool { return k.Spec.Name == name && !k.Revoked })
		if i < 0 {
			return nil, errNoKey
		}
		keys[i].Revoked = true
		return keys, nil
	})
	if err != nil {
		writeJSON(w, status, errBody(err.Error()))
		return
	}
	a.log.Info("api key revoked", "key", name)
	writeJSON(w, http.StatusOK, map[string]string{"revoked": name})
}

// change updates the stored keys and applies them here at once.
func (a *Access) change(ctx context.Context, f func([]storedKey) ([]storedKey, error)) (int, error) {
	if a.store == nil {
		return http.StatusConflict, errors.New("runtime keys need admin.state_file or admin.redis_url")
	}
	keys, err := a.store.update(ctx, f)
	switch {
	case errors.Is(err, errConflict):
		return http.StatusConflict, err
	case errors.Is(err, errNoKey):
		return http.StatusNotFound, err
	case err != nil:
		return http.StatusServiceUnavailable, fmt.Errorf("the key store is unavailable: %w", err)
	}
	wasOpen := a.Open()
	if err := a.setRuntime(keys); err != nil {
		return http.StatusInternalServerError, err
	}
	if wasOpen && !a.Open() {
		a.log.Warn("client access now requires an API key or a token: runtime keys exist and access.require_key is not set, " +
			"so calls without a key get 401; set access.require_key: false to keep serving them")
	}
	return 0, nil
}

func errBody(msg string) map[string]string { return map[string]string{"error": msg} }

// writeJSON answers v as JSON, with <, > and & as they are (read with curl
// as often as by programs).
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
