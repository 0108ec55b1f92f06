package sched

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// particularTry is a call that waits for a node of its own while a slot
// is free for others.
type particularTry struct{ ready *atomic.Bool }

func (p particularTry) Try() bool        { return p.ready.Load() }
func (p particularTry) Particular() bool { return true }

// A call at the head that waits for a node of its own does not hold back
// the calls behind it when a slot is free for them; once its node is
// ready, a kick grants it.
func TestParticularCallIsPassedOver(t *testing.T) {
	t.Parallel()
	s := New(Config{}, nil)
	t.Cleanup(s.Close)
	var ready atomic.Bool
	headDone := make(chan error, 1)
	queued := make(chan struct{})
	s.queuedHook = func(Class) { close(queued) }
	go func() { _, err := s.WaitFor(t.Context(), High, false, particularTry{&ready}); headDone <- err }()
	<-queued
	s.queuedHook = nil

	var free atomic.Int64
	free.Store(1)
	behind := make(chan error, 1)
	go func() {
		behind <- s.Wait(t.Context(), Low, false, func() bool { return free.Add(-1) >= 0 })
	}()
	select {
	case err := <-behind:
		if err != nil {
			t.Fatalf("the call behind: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("the call behind waited for the head's own node although a slot was free")
	}
	ready.Store(true)
	s.Kick()
	select {
	case err := <-headDone:
		if err != nil {
			t.Fatalf("the head: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("the head not granted once its node was ready")
	}
}

// A head call that leaves the queue (its deadline) lets the calls behind
// it go at once, without waiting for another kick.
func TestLeavingHeadLetsTheNextGo(t *testing.T) {
	t.Parallel()
	s := New(Config{}, nil)
	t.Cleanup(s.Close)
	ctx, cancel := context.WithCancel(t.Context())
	queued := make(chan struct{}, 2)
	s.queuedHook = func(Class) { queued <- struct{}{} }
	headDone := make(chan error, 1)
	go func() { headDone <- s.Wait(ctx, High, false, func() bool { return false }) }()
	<-queued
	var free atomic.Bool
	behind := make(chan error, 1)
	go func() { behind <- s.Wait(t.Context(), Low, false, func() bool { return free.Load() }) }()
	<-queued
	free.Store(true) // a slot is free, but nothing kicks
	cancel()
	if err := <-headDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("the head: %v, want canceled", err)
	}
	select {
	case err := <-behind:
		if err != nil {
			t.Fatalf("the call behind: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("the call behind waited after the head left")
	}
}
