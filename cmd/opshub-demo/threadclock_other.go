//go:build !linux

package main

import "time"

// newThreadClock falls back to wall time where the thread's CPU clock is
// not read: the burner then spins its share of each window by the clock.
func newThreadClock() func() time.Duration {
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}
