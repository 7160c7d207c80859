// Package clock is the time source of the parts that wait on a schedule
// (the local runtime's restart back-off, probe schedules, the job engine):
// real time in the product; tests pass sinktest.FakeClock, which moves
// only when told to.
package clock

import "time"

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// After sends the clock's time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time                         { return time.Now() }
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }
