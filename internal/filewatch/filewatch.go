package filewatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configure a Watcher.
type Options struct {
	// Paths are the files to watch; their directories are watched.
	Paths []string
	// Debounce is the quiet time after the last event that concerns a file
	// before Changed is called.
	Debounce time.Duration
	// Changed is called once per quiet period, on the Watcher's goroutine:
	// calls never overlap.
	Changed func()
	// Failed, when set, gets the errors the watch reports.
	Failed func(error)
}

// maxHops bounds the symlinks followed from one path.
const maxHops = 16

// Watcher calls Options.Changed after the watched files change, until Close.
type Watcher struct {
	o      Options
	fs     *fsnotify.Watcher
	names  map[string]bool // owned by the run goroutine once started
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start watches the directories of o.Paths. It fails when one of them
// cannot be watched.
func Start(o Options) (*Watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dirs := map[string]bool{}
	for _, p := range o.Paths {
		dirs[filepath.Dir(filepath.Clean(p))] = true
	}
	for d := range dirs {
		if err := fs.Add(d); err != nil {
			fs.Close()
			return nil, fmt.Errorf("watching %s: %w", d, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{o: o, fs: fs, names: names(o.Paths), cancel: cancel}
	w.wg.Go(func() { w.run(ctx) })
	return w, nil
}

// Close stops watching and waits for a Changed call in progress.
func (w *Watcher) Close() {
	w.cancel()
	w.fs.Close()
	w.wg.Wait()
}

func (w *Watcher) run(ctx context.Context) {
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if concerns(w.names, ev.Name) {
				quiet.Reset(w.o.Debounce)
			}
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			if w.o.Failed != nil {
				w.o.Failed(err)
			}
		case <-quiet.C:
			// A symlink may point somewhere else now: follow it again.
			w.names = names(w.o.Paths)
			w.o.Changed()
		}
	}
}

// concerns reports whether an event on name may have changed a watched
// file: name is one of names, or one of Kubernetes' ".." entries.
func concerns(names map[string]bool, name string) bool {
	name = filepath.Clean(name)
	return names[name] || strings.HasPrefix(filepath.Base(name), "..")
}

// names are the paths whose events concern the files: each path, the
// symlinks it goes through and the file it ends at.
func names(paths []string) map[string]bool {
	out := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		out[p] = true
		for range maxHops {
			target, err := os.Readlink(p)
			if err != nil {
				break // not a symlink, or gone
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(filepath.Dir(p), target)
			}
			p = filepath.Clean(target)
			out[p] = true
		}
		if end, err := filepath.EvalSymlinks(p); err == nil {
			out[filepath.Clean(end)] = true
		}
	}
	return out
}
