package sinks

import (
	"math/rand/v2"
	"time"

	"github.com/opshub/opshub/outbound"
)

// RetryPolicy says how long a sink waits before trying a failed batch
// again: exponential back-off from Initial, doubling up to Max, with jitter
// (a random wait between half and all of the step), and never less than a
// Retry-After the destination asked for. A batch is retried until it is
// delivered or refused for good: the buffer holds what waits meanwhile.
type RetryPolicy struct {
	Initial time.Duration
	Max     time.Duration
}

// DefaultRetryPolicy starts at half a second and backs off to a minute.
var DefaultRetryPolicy = RetryPolicy{Initial: 500 * time.Millisecond, Max: time.Minute}

// Wait returns the wait before attempt number attempt+1, where attempt
// counts the failures so far (1 for the first), and retryAfter is what the
// server asked for (0 if nothing). rnd returns a float in [0, 1); nil uses
// math/rand.
func (p RetryPolicy) Wait(attempt int, retryAfter time.Duration, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	return outbound.Backoff{Initial: p.Initial, Max: p.Max}.Wait(attempt, retryAfter, 0.5+rnd()/2)
}
