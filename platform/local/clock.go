package local

import "time"

// Clock is the runtime's time source for the times it reports (starts,
// exits, next restarts) and for restart back-off waits. Tests inject a fake
// one to drive a crash loop without waiting minutes.
//
// The grace period before SIGKILL and the polling of an instance's $PORT use
// real time whatever the clock: they measure how real processes behave.
type Clock interface {
	Now() time.Time
	// After sends the clock's time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
