package filewatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// link makes (or replaces, by a rename) the symlink at path.
func link(t *testing.T, target, path string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestConcerns: the file, the symlinks it goes through, the file it ends at
// and Kubernetes' ".." entries concern it; other files in the directory do
// not.
func TestConcerns(t *testing.T) {
	dir := t.TempDir()
	// A Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..2026_01_01.1
	if err := os.Mkdir(filepath.Join(dir, "..2026_01_01.1"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "..2026_01_01.1", "tls.crt"), "x")
	link(t, "..2026_01_01.1", filepath.Join(dir, "..data"))
	link(t, filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt"))
	// A symlink to a file beside it, as certbot-like tools lay out renewals.
	write(t, filepath.Join(dir, "key-3.pem"), "k")
	link(t, "key-3.pem", filepath.Join(dir, "tls.key"))

	n := names([]string{filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")})
	for name, want := range map[string]bool{
		filepath.Join(dir, "tls.crt"):                   true,
		filepath.Join(dir, "tls.key"):                   true,
		filepath.Join(dir, "key-3.pem"):                 true,
		filepath.Join(dir, "..data"):                    true,
		filepath.Join(dir, "..data_tmp"):                true,
		filepath.Join(dir, "..2026_01_01.1", "tls.crt"): true,
		dir + "/./tls.crt":                              true,
		filepath.Join(dir, "gw.log"):                    false,
		filepath.Join(dir, "tls.crt.tmp"):               false,
		filepath.Join(dir, "key-2.pem"):                 false,
		filepath.Join(dir, "evmgate.yaml"):              false,
	} {
		if got := concerns(n, name); got != want {
			t.Errorf("concerns(%s) = %v, want %v", name, got, want)
		}
	}
	rel := names([]string{"tls.crt"})
	if !concerns(rel, "./tls.crt") || concerns(rel, "./gw.log") {
		t.Errorf("a relative path: %v", rel)
	}
}

// watch starts a Watcher on paths whose calls land on the returned channel.
func watch(t *testing.T, paths ...string) <-chan struct{} {
	t.Helper()
	calls := make(chan struct{}, 16)
	w, err := Start(Options{Paths: paths, Debounce: 100 * time.Millisecond, Changed: func() { calls <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return calls
}

func next(t *testing.T, calls <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatalf("no call within 10s after %s", what)
	}
}

// none checks that no call comes for a while: there is no event to wait for
// when nothing should happen, so the window spans many quiet periods.
func none(t *testing.T, calls <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-calls:
		t.Fatalf("a call after %s", what)
	case <-time.After(600 * time.Millisecond):
	}
}

// TestWatcher: writes to other files in the directory call nothing; a
// change to the file, to the file a symlink points to, or a symlink
// pointed somewhere else calls Changed, and the new target is followed.
func TestWatcher(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert-1.pem"), "1")
	path := filepath.Join(dir, "tls.crt")
	link(t, "cert-1.pem", path)
	calls := watch(t, path)

	for i := range 5 {
		write(t, filepath.Join(dir, "gw.log"), string(rune('a'+i)))
	}
	none(t, calls, "writes to another file")

	write(t, filepath.Join(dir, "cert-1.pem"), "1b")
	next(t, calls, "the symlink's target rewritten")

	write(t, filepath.Join(dir, "cert-2.pem"), "2")
	none(t, calls, "a file written that nothing points to yet")
	link(t, "cert-2.pem", path)
	next(t, calls, "the symlink pointed to another file")
	write(t, filepath.Join(dir, "cert-2.pem"), "2b")
	next(t, calls, "the new target rewritten")
	write(t, filepath.Join(dir, "cert-1.pem"), "1c")
	none(t, calls, "the old target rewritten")
}
