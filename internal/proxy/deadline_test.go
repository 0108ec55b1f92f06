package proxy

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRequestCtxWithoutDone(t *testing.T) {
	ctx := newRequestCtx(context.Background(), time.Hour)
	if d, ok := ctx.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("Deadline() = %v, %v", d, ok)
	}
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err() before the deadline = %v", err)
	}
	ctx.end()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err() after end = %v, want Canceled", err)
	}
	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done() asked for after end is not closed")
	}
}

func TestRequestCtxDeadlinePassed(t *testing.T) {
	ctx := newRequestCtx(context.Background(), time.Millisecond)
	defer ctx.end()
	<-ctx.Done() // the timer made on demand fires
	if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err() = %v, want DeadlineExceeded", err)
	}
	late := newRequestCtx(context.Background(), -time.Second)
	defer late.end()
	if err := late.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err() of a passed deadline without Done = %v", err)
	}
}

func TestRequestCtxEndReachesChildren(t *testing.T) {
	ctx := newRequestCtx(context.Background(), time.Hour)
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx.end()
	select {
	case <-child.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a derived context was not canceled by end")
	}
	if !errors.Is(context.Cause(child), context.Canceled) {
		t.Fatalf("Cause(child) = %v", context.Cause(child))
	}
}

func TestRequestCtxKeepsEarlierParentDeadline(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx := newRequestCtx(parent, time.Hour)
	defer ctx.end()
	if d, _ := ctx.Deadline(); time.Until(d) > time.Minute {
		t.Fatalf("Deadline() %v is after the parent's", d)
	}
	cancel()
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err() after the parent's cancel = %v", err)
	}
}

func BenchmarkRequestCtx(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ctx := newRequestCtx(context.Background(), time.Second)
		_, _ = ctx.Deadline()
		_ = ctx.Err()
		ctx.end()
	}
}

func BenchmarkWithTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = ctx.Deadline()
		_ = ctx.Err()
		cancel()
	}
}
