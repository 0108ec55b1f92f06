package sched

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultMaxQueued        = 10000
	DefaultFastTrackPerHigh = 2
	DefaultLowShare         = 20
	DefaultLowMaxWait       = 2 * time.Second
	// MaxLookahead bounds Config.Lookahead: every failed try costs a call
	// under the scheduler's lock.
	MaxLookahead = 1024
)

// Config sets the queue bounds and the granting rule of one network's
// scheduler. The zero value is valid and means "all defaults".
type Config struct {
	// MaxQueued bounds the waiting calls of each class, indexed by Class
	// (FastTrack, High, Low). A new call of a class that is full is
	// rejected at once with ErrQueueFull; other classes are not affected.
	// 0 means DefaultMaxQueued. Retried calls are admitted over the bound
	// (see Wait).
	MaxQueued [NumClasses]int
	// FastTrackPerHigh is N in the N:1 interleave: while both fast-track
	// and high calls wait, N fast-track calls are granted per high call.
	// 0 means DefaultFastTrackPerHigh.
	FastTrackPerHigh int
	// DrainFastTrackFirst grants every waiting fast-track call before any
	// high call (FastTrackPerHigh is then unused).
	DrainFastTrackFirst bool
	// LowShare guarantees low calls a share of the grants: while a low
	// call waits, at least one grant in every LowShare goes to a low
	// call. 0 means DefaultLowShare, -1 turns the share off, 1 is not
	// allowed (it would put low ahead of everything).
	LowShare int
	// LowMaxWait promotes old low calls: a low call that has waited this
	// long competes as a high call, ordered with the high calls by
	// arrival. 0 means DefaultLowMaxWait; a negative value turns
	// promotion off.
	LowMaxWait time.Duration
	// Lookahead is how many further waiting calls are offered a slot, in
	// grant order, after one call's try fails in the same round. 0 (the
	// default) is strict head-of-line: the first failure stops granting.
	// A small value helps when calls need different nodes (for example
	// archive-only calls waiting for a busy archive node).
	Lookahead int
	// OnGrant, when set, is called by the granted call's goroutine after
	// Wait succeeds, outside the scheduler's lock, with the time the call
	// spent queued (0 on the fast path). Use it for a wait-time histogram.
	OnGrant func(class Class, waited time.Duration)
}

// Validate reports the first invalid field, naming it and the fix.
func (c Config) Validate() error {
	for i, m := range c.MaxQueued {
		if m < 0 {
			return fmt.Errorf("sched: MaxQueued[%s] = %d: use 0 for the default (%d) or a positive bound",
				Class(i), m, DefaultMaxQueued)
		}
	}
	if c.FastTrackPerHigh < 0 {
		return fmt.Errorf("sched: FastTrackPerHigh = %d: use 0 for the default (%d) or a positive count",
			c.FastTrackPerHigh, DefaultFastTrackPerHigh)
	}
	if c.LowShare < -1 || c.LowShare == 1 {
		return fmt.Errorf("sched: LowShare = %d: use -1 (off), 0 for the default (%d) or a value of 2 or more",
			c.LowShare, DefaultLowShare)
	}
	if c.Lookahead < 0 || c.Lookahead > MaxLookahead {
		return fmt.Errorf("sched: Lookahead = %d: use a value from 0 (strict head-of-line) to %d",
			c.Lookahead, MaxLookahead)
	}
	return nil
}

// settings is a Config with defaults applied, in the form dispatch uses.
type settings struct {
	maxQueued  [NumClasses]int
	ftPerHigh  int
	drainFirst bool
	lowShare   int           // 0: off
	lowMaxWait time.Duration // 0: off
	lookahead  int
	onGrant    func(Class, time.Duration)
}

func (c Config) settings() settings {
	s := settings{
		maxQueued:  c.MaxQueued,
		ftPerHigh:  c.FastTrackPerHigh,
		drainFirst: c.DrainFastTrackFirst,
		lowShare:   c.LowShare,
		lowMaxWait: c.LowMaxWait,
		lookahead:  c.Lookahead,
		onGrant:    c.OnGrant,
	}
	for i, m := range s.maxQueued {
		if m == 0 {
			s.maxQueued[i] = DefaultMaxQueued
		}
	}
	if s.ftPerHigh == 0 {
		s.ftPerHigh = DefaultFastTrackPerHigh
	}
	switch {
	case s.lowShare == 0:
		s.lowShare = DefaultLowShare
	case s.lowShare < 0:
		s.lowShare = 0
	}
	switch {
	case s.lowMaxWait == 0:
		s.lowMaxWait = DefaultLowMaxWait
	case s.lowMaxWait < 0:
		s.lowMaxWait = 0
	}
	return s
}

// Errors returned by Wait; test them with errors.Is.
var (
	// ErrQueueFull: the call's class already holds MaxQueued calls.
	ErrQueueFull = errors.New("priority queue full")
	// ErrExpired: the call's context deadline passed while it was queued
	// (the error also wraps context.DeadlineExceeded).
	ErrExpired = errors.New("call expired while queued")
	// ErrClosed: the scheduler was closed.
	ErrClosed = errors.New("scheduler closed")
)
