package autoscaler

import (
	"testing"
	"time"
)

// podsNow are n instances at util percent of their 1-core request, with
// their samples and start times relative to now (the clock of the pass).
func podsNow(n int, util float64, now time.Time) []Pod {
	ps := podsAt(n, util)
	for i := range ps {
		ps[i].StartTime, ps[i].ReadySince = now.Add(-2*time.Hour), now.Add(-2*time.Hour)
		s := ps[i].Usage[CPU]
		s.Time = now.Add(-15 * time.Second)
		ps[i].Usage[CPU] = s
	}
	return ps
}

// TestClockSteppingBackDoesNotStretchTheWindows: the recommendations and
// scale events of the windows carry the wall clock (they are stored). When
// the clock steps back an hour, those taken before the step lie in the
// future; they must count for no longer than their window from the step,
// not for an hour more: the service scales down once the down window has
// passed, and up again once the rate policy's period has passed. When the
// clock steps forward again, nothing counts twice.
func TestClockSteppingBackDoesNotStretchTheWindows(t *testing.T) {
	p := policy(1, 10)
	st := &State{}
	opts := DefaultOptions()
	pass := func(now time.Time, current int, util float64) Decision {
		t.Helper()
		d := Decide(opts, p, st, now, current, podsNow(current, util, now))
		st.RecordScale(p.Behavior, now, d.Current, d.Desired)
		return d
	}
	// Busy at t0: 4 instances at 100% of a 50% target go to 8.
	if d := pass(t0, 4, 100); d.Desired != 8 {
		t.Fatalf("at t0: %+v", d)
	}
	// The clock steps back an hour, and the load is gone.
	back := t0.Add(-time.Hour)
	if d := pass(back, 8, 10); d.Desired != 8 || d.Limit != LimitStabilization {
		t.Fatalf("right after the step: %+v, want 8 held by the 300s down window", d)
	}
	var d Decision
	for now := back; now.Before(back.Add(6 * time.Minute)); now = now.Add(15 * time.Second) {
		d = pass(now, 8, 10)
	}
	if d.Desired >= 8 {
		t.Fatalf("6 minutes after the step back the service is still held at %d (%s: %s); the down window must count from the step, not from an hour ahead", d.Desired, d.Limit, d.Reason)
	}
	current := d.Desired

	// Busy again, right after a scale-up: the rate policy (at most double
	// per 15 s) counts the scale-up once, for its period only.
	now := back.Add(6 * time.Minute)
	first := pass(now, current, 400)
	if first.Desired <= current {
		t.Fatalf("a busy service after the step back does not scale up: %+v", first)
	}
	next := pass(now.Add(20*time.Second), first.Desired, 400)
	if next.Desired <= first.Desired && first.Desired < p.MaxReplicas {
		t.Fatalf("20 s after a scale-up the next is still held: %+v", next)
	}

	// The clock steps forward again: the passes of the wrong hour are an
	// hour old and hold nothing back, and the state stays bounded.
	fwd := now.Add(time.Hour)
	if d := pass(fwd, next.Desired, 10); d.Desired >= next.Desired {
		t.Fatalf("right after the step forward: %+v, want a scale-down (no recommendation of the last 5 minutes is higher)", d)
	}
	if n := len(st.Recommendations); n > 21 {
		t.Errorf("the state holds %d recommendations after the steps, want at most 21", n)
	}
}
