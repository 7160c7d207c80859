package jobs

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is a parsed cron schedule read in a time zone.
type Schedule struct {
	cron cron.Schedule
	loc  *time.Location
}

// parser reads five fields or a descriptor (@hourly, @daily, @every 5m).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses spec, read in the zone named tz ("" is UTC).
func ParseSchedule(spec, tz string) (Schedule, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return Schedule{}, err
		}
		loc = l
	}
	c, err := parser.Parse(spec)
	if err != nil {
		return Schedule{}, err
	}
	return Schedule{cron: c, loc: loc}, nil
}

// Next is the first scheduled time after t.
func (s Schedule) Next(t time.Time) time.Time {
	return s.cron.Next(t.In(s.loc))
}

// maxMissed bounds the scheduled times Due walks through, as the CronJob
// controller gives up counting after 100 missed starts.
const maxMissed = 100

// Due decides what a schedule asks for at now, given last, the newest
// scheduled time already handled (run or skipped). It returns the newest
// scheduled time in (last, now] as at (zero when none has come), whether a
// run is to start for it, and next, the first scheduled time after now.
//
// Missed times are not replayed one by one: as a CronJob's, only the newest
// one runs, and not even that one when it is older than deadline (a
// startingDeadlineSeconds; 0 means no deadline).
func (s Schedule) Due(last, now time.Time, deadline time.Duration) (at time.Time, run bool, next time.Time) {
	for t, n := s.Next(last), 0; !t.After(now); t, n = s.Next(t), n+1 {
		if n >= maxMissed {
			// Too many to walk: the newest one is found from just before now.
			t = s.newestBefore(now)
			if t.IsZero() {
				break
			}
			at = t
			break
		}
		at = t
	}
	next = s.Next(now)
	if at.IsZero() {
		return at, false, next
	}
	run = deadline <= 0 || now.Sub(at) <= deadline
	return at, run, next
}

// newestBefore finds the newest scheduled time at or before now by walking
// forward from ever earlier starting points.
func (s Schedule) newestBefore(now time.Time) time.Time {
	for back := time.Minute; back <= 8*366*24*time.Hour; back *= 2 {
		var at time.Time
		for t := s.Next(now.Add(-back)); !t.After(now); t = s.Next(t) {
			at = t
		}
		if !at.IsZero() {
			return at
		}
	}
	return time.Time{}
}
