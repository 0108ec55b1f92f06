package logbuf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is an output that can be read while written.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func newLogger(out *syncBuffer) (*slog.Logger, *Writer) {
	w := New(out)
	return slog.New(NewHandler(slog.NewTextHandler(w, nil), w)), w
}

// TestLaterLinesGoOutTogether: lines logged with Later reach the output
// together (one write, unless the machine stalls past Delay meanwhile).
func TestLaterLinesGoOutTogether(t *testing.T) {
	out := &syncBuffer{}
	log, w := newLogger(out)
	defer w.Close()
	for i := range 100 {
		log.LogAttrs(Later, slog.LevelInfo, "request completed", slog.Int("i", i))
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "i=99") {
		if time.Now().After(deadline) {
			t.Fatalf("the buffered lines were not written: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond) // polling the output for the timer's write
	}
	if n := out.Writes(); n > 3 {
		t.Fatalf("100 lines took %d writes, want them together", n)
	}
	if c := strings.Count(out.String(), "request completed"); c != 100 {
		t.Fatalf("%d lines written, want 100", c)
	}
}

// TestOtherRecordsGoOutAtOnceInOrder: a record logged without Later is
// written before Log returns, after the buffered lines logged before it.
func TestOtherRecordsGoOutAtOnceInOrder(t *testing.T) {
	out := &syncBuffer{}
	log, w := newLogger(out)
	defer w.Close()
	log.LogAttrs(Later, slog.LevelInfo, "request completed", slog.Int("i", 1))
	log.With("node", "a").Warn("node down")
	got := out.String()
	first, second := strings.Index(got, "request completed"), strings.Index(got, "node down")
	if first < 0 || second < first || !strings.Contains(got, "node=a") {
		t.Fatalf("output %q: want the request line, then the warning", got)
	}
}

// TestCloseWritesWhatIsLeft: Close writes the buffer, and later lines go
// out at once.
func TestCloseWritesWhatIsLeft(t *testing.T) {
	out := &syncBuffer{}
	log, w := newLogger(out)
	log.LogAttrs(Later, slog.LevelInfo, "request completed", slog.Int("i", 1))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "i=1") {
		t.Fatalf("Close left the line buffered: %q", out.String())
	}
	log.LogAttrs(Later, slog.LevelInfo, "request completed", slog.Int("i", 2))
	if !strings.Contains(out.String(), "i=2") {
		t.Fatalf("a line after Close was buffered: %q", out.String())
	}
}

// TestFullBufferIsWritten: lines beyond the buffer's size go out without
// waiting, and concurrent loggers lose no line.
func TestFullBufferIsWritten(t *testing.T) {
	out := &syncBuffer{}
	log, w := newLogger(out)
	var wg sync.WaitGroup
	const each, loggers = 500, 4
	pad := strings.Repeat("x", 200)
	for g := range loggers {
		wg.Go(func() {
			for i := range each {
				log.LogAttrs(Later, slog.LevelInfo, "request completed", slog.String("id", fmt.Sprintf("%d-%d", g, i)), slog.String("pad", pad))
			}
		})
	}
	wg.Wait()
	if out.Writes() == 0 {
		t.Fatal("nothing written although the lines are over the buffer's size")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(out.String(), "request completed"); c != each*loggers {
		t.Fatalf("%d lines written, want %d", c, each*loggers)
	}
}

func TestLaterIsAContext(t *testing.T) {
	if Later.Value(laterKey{}) != true || context.Background().Value(laterKey{}) != nil {
		t.Fatal("Later does not mark its records")
	}
}

func BenchmarkRequestLine(b *testing.B) {
	for _, later := range []bool{false, true} {
		b.Run(fmt.Sprintf("later=%v", later), func(b *testing.B) {
			w := New(discard{})
			log := slog.New(NewHandler(slog.NewTextHandler(w, nil), w))
			ctx := context.Background()
			if later {
				ctx = Later
			}
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request completed", slog.String("req_id", "abc"), slog.Int("size", 41))
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// failOnce fails its first write, after writing half of it.
type failOnce struct {
	syncBuffer
	failed bool
}

func (f *failOnce) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		n, _ := f.syncBuffer.Write(p[:len(p)/2])
		return n, errors.New("disk full")
	}
	return f.syncBuffer.Write(p)
}

// TestAFailedWriteLosesOnlyItsLines: after the output fails once, later
// lines are written again.
func TestAFailedWriteLosesOnlyItsLines(t *testing.T) {
	out := &failOnce{}
	w := New(out)
	log := slog.New(NewHandler(slog.NewTextHandler(w, nil), w))
	log.Info("first")
	log.Info("second")
	log.LogAttrs(Later, slog.LevelInfo, "request completed")
	if err := w.Close(); err != nil {
		t.Fatalf("Close after the output recovered: %v", err)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3 || strings.Contains(lines[0], "second") || !strings.HasPrefix(lines[1], "time=") ||
		!strings.Contains(lines[1], "msg=second") || !strings.Contains(lines[2], `msg="request completed"`) {
		t.Fatalf("output %q: want the cut line, then the lines after the failed write, each on its own", got)
	}
}
