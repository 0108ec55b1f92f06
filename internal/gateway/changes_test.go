package gateway

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestChangesWakeWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChanges()
		done := make(chan struct{})
		go func() { c.wait(context.Background(), 0, time.Hour); close(done) }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("returned before any change")
		default:
		}
		c.notify()
		<-done
		if v, _ := c.current(); v != 1 {
			t.Fatalf("version %d after one change", v)
		}
	})
}

func TestChangesWaitEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChanges()
		c.notify()
		start := time.Now()
		c.wait(context.Background(), 0, time.Hour) // an old version: at once
		if time.Since(start) != 0 {
			t.Errorf("waited %v with an old version", time.Since(start))
		}
		c.wait(context.Background(), 1, time.Second) // nothing changes: the whole wait
		if got := time.Since(start); got != time.Second {
			t.Errorf("waited %v, want 1s", got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(time.Minute); cancel() }()
		c.wait(ctx, 1, time.Hour) // the client leaves
		if got := time.Since(start); got != time.Second+time.Minute {
			t.Errorf("waited %v, want until the request ended", got)
		}
	})
}

func TestChangesStopEndsWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChanges()
		done := make(chan struct{})
		go func() { c.wait(context.Background(), 0, time.Hour); close(done) }()
		synctest.Wait()
		c.stop()
		<-done
		c.stop() // twice is fine
		c.wait(context.Background(), 0, time.Hour)
	})
}
