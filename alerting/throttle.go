package alerting

import "time"

// throttleAllows decides whether a firing event may be notified at now, when
// the last notification for the same event kind and resource went out at
// last (zero: never). window 0 means no throttling. A last after now (the
// clock stepped back) throttles; the caller then counts the window from now.
func throttleAllows(last time.Time, window time.Duration, now time.Time) bool {
	if window <= 0 || last.IsZero() {
		return true
	}
	return !now.Before(last.Add(window))
}
