package devnet

import (
	"context"
	"log/slog"
)

// gethHandler passes only geth's warnings and errors to the Net's logger:
// geth logs every imported block at info level, which would drown the
// Net's own lines.
func gethHandler(l *slog.Logger) slog.Handler {
	return minLevelHandler{min: slog.LevelWarn, next: l.With("source", "geth").Handler()}
}

type minLevelHandler struct {
	min  slog.Level
	next slog.Handler
}

func (h minLevelHandler) Enabled(ctx context.Context, lvl slog.Level) bool {
	return lvl >= h.min && h.next.Enabled(ctx, lvl)
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.next.Handle(ctx, r)
}

func (h minLevelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithAttrs(attrs)}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{min: h.min, next: h.next.WithGroup(name)}
}
