package alerting

import (
	"time"

	"github.com/opshub/opshub/outbound"
)

// RetryPolicy says how deliveries are retried and when integrations are
// disabled.
type RetryPolicy struct {
	// Initial and Max bound the exponential back-off between attempts.
	Initial, Max time.Duration
	// GiveUpAfter is how long after its creation a delivery is retried.
	GiveUpAfter time.Duration
	// DisableAfter failed deliveries in a row disable the integration.
	DisableAfter int
}

// DefaultRetryPolicy is used for zero fields.
var DefaultRetryPolicy = RetryPolicy{Initial: time.Second, Max: 5 * time.Minute, GiveUpAfter: 24 * time.Hour, DisableAfter: 5}

func (p RetryPolicy) withDefaults() RetryPolicy { return p.over(DefaultRetryPolicy) }

// over returns base with the non-zero fields of p put over it.
func (p RetryPolicy) over(base RetryPolicy) RetryPolicy {
	if p.Initial > 0 {
		base.Initial = p.Initial
	}
	if p.Max > 0 {
		base.Max = p.Max
	}
	if p.GiveUpAfter > 0 {
		base.GiveUpAfter = p.GiveUpAfter
	}
	if p.DisableAfter > 0 {
		base.DisableAfter = p.DisableAfter
	}
	if base.Max < base.Initial {
		base.Max = base.Initial
	}
	return base
}

// nextAttempt is when a delivery that failed its attempts-th attempt at now
// is tried again: exponential back-off scaled by jitter (0.8–1.2 is
// typical), and never sooner than the destination's retryAfter.
func (p RetryPolicy) nextAttempt(now time.Time, attempts int, retryAfter time.Duration, jitter float64) time.Time {
	return now.Add(outbound.Backoff{Initial: p.Initial, Max: p.Max}.Wait(attempts, retryAfter, jitter))
}
