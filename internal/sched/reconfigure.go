package sched

// Reconfigure applies a new Config to a running scheduler (a configuration
// reload): queue bounds and the granting rule change for the next grant,
// and the calls already waiting keep their place. A bound lowered under
// the number of calls waiting rejects only new calls until the queue is
// back under it. cfg.OnGrant is ignored: the scheduler keeps the one it
// was built with. Like New, it refuses a cfg that fails Validate.
func (s *Scheduler) Reconfigure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	next := cfg.settings()
	s.mu.Lock()
	defer s.mu.Unlock()
	// onGrant is read outside the lock: it is left alone.
	s.cfg.maxQueued = next.maxQueued
	s.cfg.ftPerHigh = next.ftPerHigh
	s.cfg.drainFirst = next.drainFirst
	s.cfg.lowShare = next.lowShare
	s.cfg.lowMaxWait = next.lowMaxWait
	s.cfg.lookahead = next.lookahead
	s.ftRun = min(s.ftRun, s.cfg.ftPerHigh)
	if s.cfg.lowShare > 0 {
		s.sinceLow = min(s.sinceLow, s.cfg.lowShare)
	}
	if s.total > 0 && !s.closed {
		s.dispatch() // a new rule may grant a waiting call now
	}
	return nil
}
