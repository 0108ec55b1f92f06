package reload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/evmgate/evmgate/internal/filewatch"
	"github.com/prometheus/client_golang/prometheus"
)

// Func reads and applies the configuration. It returns the key paths of
// the settings it changed, those of the settings that need a restart to
// change (kept at their running values), or why nothing was applied.
type Func func(ctx context.Context) (applied, restart []string, err error)

// Options configure a Reloader.
type Options struct {
	// Path is the configuration file; its directory is watched.
	Path string
	// Reload does the work.
	Reload Func
	// Signals carries SIGHUP (nil: no signal triggers).
	Signals <-chan os.Signal
	// Debounce is the quiet time after the last change on disk before
	// reloading. Default 250ms.
	Debounce time.Duration
	// Log receives one line per reload.
	Log *slog.Logger
	// Registerer takes the metrics.
	Registerer prometheus.Registerer
}

// DefaultDebounce is Options.Debounce's default.
const DefaultDebounce = 250 * time.Millisecond

// Reloader runs reloads on SIGHUP and on changes to the file.
type Reloader struct {
	o       Options
	log     *slog.Logger
	m       *metrics
	watcher *filewatch.Watcher // nil when the directory cannot be watched

	mu   sync.Mutex // mu serialises reloads and protects last
	last []byte     // the file's bytes at the last reload

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start watches the file and the signals until Close. A directory that
// cannot be watched is not an error: it is logged, and SIGHUP still works.
func Start(o Options) (*Reloader, error) {
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Reloader{o: o, log: o.Log.With("component", "reload"), m: m}
	r.last, _ = os.ReadFile(o.Path)
	r.m.success(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	w, err := filewatch.Start(filewatch.Options{
		Paths:    []string{o.Path},
		Debounce: o.Debounce,
		Changed:  func() { r.changed(ctx) },
		Failed: func(err error) {
			r.log.Warn("watching the configuration file", "path", o.Path, "err", err)
		},
	})
	if err != nil {
		r.log.Warn("not watching the configuration file for changes; SIGHUP reloads it", "path", o.Path, "err", err)
	} else {
		r.watcher = w
	}
	if o.Signals != nil {
		r.wg.Go(func() { r.signals(ctx) })
	}
	return r, nil
}

// Close stops watching and waits for a reload in progress.
func (r *Reloader) Close() {
	r.cancel()
	if r.watcher != nil {
		r.watcher.Close()
	}
	r.wg.Wait()
}

func (r *Reloader) signals(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.o.Signals:
			r.Reload(ctx, "sighup")
		}
	}
}

// changed reloads when the file's bytes differ from the last ones read.
func (r *Reloader) changed(ctx context.Context) {
	data, err := os.ReadFile(r.o.Path)
	if errors.Is(err, fs.ErrNotExist) {
		r.log.Warn("the configuration file is gone; keeping the running configuration", "path", r.o.Path)
		return
	}
	r.mu.Lock()
	same := err == nil && bytes.Equal(data, r.last)
	r.mu.Unlock()
	if same {
		return
	}
	r.Reload(ctx, "file")
}

// Reload reloads now; source ("sighup", "file", ...) names the trigger in
// the log. It returns what Func returned.
func (r *Reloader) Reload(ctx context.Context, source string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last, _ = os.ReadFile(r.o.Path) // what Func is about to read: a failed reload is not retried until the file changes
	start := time.Now()
	applied, restart, err := r.o.Reload(ctx)
	took := time.Since(start)
	if err != nil {
		r.m.failure()
		r.log.Error("configuration reload refused; the running configuration keeps serving", "source", source, "path", r.o.Path, "err", err)
		return err
	}
	r.m.reloads.WithLabelValues("ok").Inc()
	r.m.success(time.Now())
	r.log.Info("configuration reloaded", "source", source, "path", r.o.Path, "duration", took, "applied", appliedText(applied, restart))
	if len(restart) > 0 {
		r.log.Warn("configuration keys changed that only a restart applies; they keep their running values",
			"keys", strings.Join(restart, ", "))
	}
	return nil
}

// appliedText lists the keys a reload applied, for its log line.
func appliedText(applied, restart []string) string {
	switch {
	case len(applied) > 0:
		return strings.Join(applied, ", ")
	case len(restart) > 0:
		return "none" // the WARN line that follows names what changed
	default:
		return "no changes"
	}
}

// metrics are the Reloader's collectors.
type metrics struct {
	reloads     *prometheus.CounterVec
	lastOK      prometheus.Gauge
	lastSuccess prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "evmgate_config_reloads_total",
			Help: "Configuration reloads tried, by result (ok, error).",
		}, []string{"result"}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "evmgate_config_last_reload_successful",
			Help: "1 when the last configuration reload was applied, 0 when it was refused.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "evmgate_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration in force was loaded (at start or by the last successful reload).",
		}),
	}
	for _, c := range []prometheus.Collector{m.reloads, m.lastOK, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering reload metrics: %w", err)
		}
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	return m, nil
}

func (m *metrics) success(at time.Time) {
	m.lastOK.Set(1)
	m.lastSuccess.Set(float64(at.UnixNano()) / 1e9)
}

func (m *metrics) failure() {
	m.reloads.WithLabelValues("error").Inc()
	m.lastOK.Set(0)
}
