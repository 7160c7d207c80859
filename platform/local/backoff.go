package local

import "time"

// The kubelet's CrashLoopBackOff parameters (pkg/kubelet: backOffPeriod and
// MaxContainerBackOff).
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
)

// restartBackoff is the restart back-off of one container, with the
// semantics of the kubelet's flowcontrol.Backoff as its runtime manager uses
// it (doBackOff):
//
//   - The first restart of a container that has no back-off entry is
//     immediate; taking that restart creates the entry with 10 s.
//   - Every later exit must wait the current window, measured from the
//     exit's finish time; taking the restart doubles the window, up to 5 min.
//   - An exit more than 2 × 5 min after the last restart (the run lasted over
//     10 min) finds the entry expired: the restart is immediate again and the
//     window starts over at 10 s.
//
// It is a value with pure methods: callers pass the times in.
type restartBackoff struct {
	initial, max time.Duration
	window       time.Duration // the current wait; 0 before the first restart
	lastRestart  time.Time     // when the last restart was taken (the kubelet's lastUpdate)
}

func newRestartBackoff() restartBackoff {
	return restartBackoff{initial: backoffInitial, max: backoffMax}
}

// expired reports whether the entry no longer applies to a run that finished
// at finishedAt: there is none, or the run outlived twice the maximum.
func (b restartBackoff) expired(finishedAt time.Time) bool {
	return b.lastRestart.IsZero() || finishedAt.Sub(b.lastRestart) > 2*b.max
}

// Delay is how long after finishedAt the next start may happen.
func (b restartBackoff) Delay(finishedAt time.Time) time.Duration {
	if b.expired(finishedAt) {
		return 0
	}
	return b.window
}

// Restarted returns the back-off after a restart taken at now, following a
// run that finished at finishedAt.
func (b restartBackoff) Restarted(finishedAt, now time.Time) restartBackoff {
	if b.expired(finishedAt) {
		b.window = b.initial
	} else {
		b.window = min(2*b.window, b.max)
	}
	b.lastRestart = now
	return b
}
