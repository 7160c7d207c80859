package jobs

import (
	"testing"
	"time"
)

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The clock is an input: each case says when the schedule last fired (or
// was skipped) and what time it is now.
func TestScheduleDue(t *testing.T) {
	cases := []struct {
		name, spec, tz string
		deadline       time.Duration
		last, now      string
		wantAt         string // "" when nothing is due
		wantRun        bool
		wantNext       string
	}{
		{name: "every 30 minutes, not yet due", spec: "*/30 * * * *",
			last: "2026-12-07T10:00:00Z", now: "2026-12-07T10:29:59Z", wantNext: "2026-12-07T10:30:00Z"},
		{name: "every 30 minutes, due on the dot", spec: "*/30 * * * *",
			last: "2026-12-07T10:00:00Z", now: "2026-12-07T10:30:00Z", wantAt: "2026-12-07T10:30:00Z", wantRun: true, wantNext: "2026-12-07T11:00:00Z"},
		{name: "hourly descriptor", spec: "@hourly",
			last: "2026-12-07T10:00:00Z", now: "2026-12-07T11:00:05Z", wantAt: "2026-12-07T11:00:00Z", wantRun: true, wantNext: "2026-12-07T12:00:00Z"},
		{name: "09:00 in Berlin is 08:00 UTC in winter", spec: "0 9 * * *", tz: "Europe/Berlin",
			last: "2026-12-06T08:00:00Z", now: "2026-12-07T08:00:00Z", wantAt: "2026-12-07T08:00:00Z", wantRun: true, wantNext: "2026-12-08T08:00:00Z"},
		{name: "09:00 in Berlin is 07:00 UTC in summer", spec: "0 9 * * *", tz: "Europe/Berlin",
			last: "2026-07-06T07:00:00Z", now: "2026-07-06T08:00:00Z", wantNext: "2026-07-07T07:00:00Z",
			wantAt: "", wantRun: false},
		{name: "down for three hours: only the newest missed run, once", spec: "*/30 * * * *",
			last: "2026-12-07T07:00:00Z", now: "2026-12-07T10:10:00Z", wantAt: "2026-12-07T10:00:00Z", wantRun: true, wantNext: "2026-12-07T10:30:00Z"},
		{name: "missed by less than startingDeadlineSeconds: runs", spec: "*/30 * * * *", deadline: 15 * time.Minute,
			last: "2026-12-07T07:00:00Z", now: "2026-12-07T10:10:00Z", wantAt: "2026-12-07T10:00:00Z", wantRun: true, wantNext: "2026-12-07T10:30:00Z"},
		{name: "missed by more than startingDeadlineSeconds: skipped", spec: "*/30 * * * *", deadline: 5 * time.Minute,
			last: "2026-12-07T07:00:00Z", now: "2026-12-07T10:10:00Z", wantAt: "2026-12-07T10:00:00Z", wantRun: false, wantNext: "2026-12-07T10:30:00Z"},
		{name: "a year down with a minutely schedule: one run", spec: "* * * * *",
			last: "2025-12-07T10:00:00Z", now: "2026-12-07T10:10:30Z", wantAt: "2026-12-07T10:10:00Z", wantRun: true, wantNext: "2026-12-07T10:11:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSchedule(c.spec, c.tz)
			if err != nil {
				t.Fatal(err)
			}
			gotAt, gotRun, gotNext := s.Due(at(t, c.last), at(t, c.now), c.deadline)
			if c.wantAt == "" {
				if !gotAt.IsZero() {
					t.Errorf("due at %s, want nothing due", gotAt.UTC().Format(time.RFC3339))
				}
			} else if !gotAt.Equal(at(t, c.wantAt)) {
				t.Errorf("due at %s, want %s", gotAt.UTC().Format(time.RFC3339), c.wantAt)
			}
			if gotRun != c.wantRun {
				t.Errorf("run = %v, want %v", gotRun, c.wantRun)
			}
			if !gotNext.Equal(at(t, c.wantNext)) {
				t.Errorf("next %s, want %s", gotNext.UTC().Format(time.RFC3339), c.wantNext)
			}
		})
	}
}

func TestParseScheduleRefusesBadInput(t *testing.T) {
	for _, c := range []struct{ spec, tz string }{{"61 * * * *", ""}, {"* * * *", ""}, {"@fortnightly", ""}, {"@daily", "Mars/Olympus"}} {
		if _, err := ParseSchedule(c.spec, c.tz); err == nil {
			t.Errorf("ParseSchedule(%q, %q) accepted", c.spec, c.tz)
		}
	}
}
