package reload

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness runs a Reloader whose Func reports the file's text on a channel.
type harness struct {
	t    *testing.T
	path string
	r    *Reloader
	reg  *prometheus.Registry
	seen chan string
	fail error // Func's answer, set before a trigger
	hup  chan os.Signal
}

func newHarness(t *testing.T, dir, path string) *harness {
	t.Helper()
	h := &harness{t: t, path: path, reg: prometheus.NewRegistry(), seen: make(chan string, 16), hup: make(chan os.Signal, 1)}
	r, err := Start(Options{
		Path: path, Signals: h.hup, Debounce: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler), Registerer: h.reg,
		Reload: func(context.Context) ([]string, []string, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, nil, err
			}
			h.seen <- string(b)
			return nil, nil, h.fail
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	h.r = r
	return h
}

// next waits for the next reload and returns the text it read.
func (h *harness) next() string {
	h.t.Helper()
	select {
	case s := <-h.seen:
		return s
	case <-time.After(10 * time.Second):
		h.t.Fatal("no reload within 10s")
		return ""
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEditorSaves: a file rewritten in place, or saved as a new file renamed
// over it, is reloaded once per change; a write of the same bytes is not.
func TestEditorSaves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evmgate.yaml")
	write(t, path, "one")
	h := newHarness(t, dir, path)

	write(t, path, "two")
	if got := h.next(); got != "two" {
		t.Fatalf("reloaded %q", got)
	}
	tmp := filepath.Join(dir, ".evmgate.yaml.swp")
	write(t, tmp, "three")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if got := h.next(); got != "three" {
		t.Fatalf("after rename-on-save reloaded %q", got)
	}
	write(t, path, "three") // same bytes: no reload
	write(t, filepath.Join(dir, "other.yaml"), "x")
	write(t, path, "four")
	if got := h.next(); got != "four" {
		t.Fatalf("reloaded %q, want only the real change", got)
	}
	// The reload that handed "four" over counts itself once Func returns,
	// under the reloader's lock: taking the lock waits for that.
	h.r.mu.Lock()
	h.r.mu.Unlock()
	if got := testutil.ToFloat64(h.r.m.reloads.WithLabelValues("ok")); got != 3 {
		t.Fatalf("ok reloads = %v, want 3", got)
	}
}

// TestConfigMapSwap: Kubernetes swaps a ConfigMap volume's "..data"
// symlink to a new directory; the file is a symlink through it.
func TestConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	mkdata := func(name, text string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "evmgate.yaml"), text)
	}
	mkdata("..2026_01_01_00_00_00.1", "v1")
	if err := os.Symlink("..2026_01_01_00_00_00.1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "evmgate.yaml")
	if err := os.Symlink("..data/evmgate.yaml", path); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, dir, path)

	mkdata("..2026_01_01_00_01_00.2", "v2")
	if err := os.Symlink("..2026_01_01_00_01_00.2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_00.1")); err != nil {
		t.Fatal(err)
	}
	if got := h.next(); got != "v2" {
		t.Fatalf("after the ConfigMap swap reloaded %q", got)
	}
}

// TestSignalAndRefusal: SIGHUP reloads even when the bytes did not change;
// a refused reload is counted and logged, and is not retried until the file
// changes.
func TestSignalAndRefusal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evmgate.yaml")
	write(t, path, "same")
	h := newHarness(t, dir, path)
	h.hup <- syscall.SIGHUP
	if got := h.next(); got != "same" {
		t.Fatalf("SIGHUP reloaded %q", got)
	}
	if err := h.r.Reload(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	h.next()

	h.fail = errors.New("networks[0].name: is required")
	err := h.r.Reload(context.Background(), "test")
	h.next()
	if err == nil || !strings.Contains(err.Error(), "is required") {
		t.Fatalf("Reload = %v", err)
	}
	if got := testutil.ToFloat64(h.r.m.reloads.WithLabelValues("error")); got != 1 {
		t.Fatalf("error reloads = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.r.m.lastOK); got != 0 {
		t.Fatalf("last reload successful = %v, want 0", got)
	}
}
