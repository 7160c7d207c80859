package spend

import (
	"fmt"
	"time"
)

// Retention is how long the ledger keeps each level of detail, counted in
// calendar months of the billing time zone, the current month included.
type Retention struct {
	// HourlyMonths keep hourly buckets per instance: 2 keeps the current
	// and the previous month.
	HourlyMonths int
	// Months are kept at all. Those past HourlyMonths keep daily buckets
	// per service and resource; older months are dropped.
	Months int
}

// DefaultRetention keeps hourly buckets per instance for the current and the
// previous month and daily buckets per service for a year.
var DefaultRetention = Retention{HourlyMonths: 2, Months: 12}

// Validate reports a retention that cannot be applied.
func (r Retention) Validate() error {
	if r.HourlyMonths < 1 {
		return fmt.Errorf("spend: retention keeps hourly buckets for %d months, want 1 or more (the current month)", r.HourlyMonths)
	}
	if r.Months < r.HourlyMonths {
		return fmt.Errorf("spend: retention keeps %d months, fewer than the %d that keep hourly buckets", r.Months, r.HourlyMonths)
	}
	return nil
}

// SetRetention replaces DefaultRetention for later Compact calls.
func (l *Ledger) SetRetention(r Retention) error {
	if err := r.Validate(); err != nil {
		return err
	}
	l.retention = r
	return nil
}

// Compact applies the retention: it rolls the hourly, per-instance buckets
// of months past HourlyMonths into daily buckets per service and resource,
// and drops every bucket of months past Months. So the ledger holds
// HourlyMonths of hours per instance, then days per service, and nothing
// older: a month of 100 instances is 216,000 hourly buckets, its rollup a
// few thousand. Totals, months and per-project and per-service breakdowns
// of the months kept are unchanged; reports on rolled-up months lose the
// instance and the hour. It commits through the store in one transaction
// and returns the number of buckets it rolled up or dropped.
func (l *Ledger) Compact(now time.Time) (int, error) {
	start, _ := l.Month(now)
	hourlyFrom := start.AddDate(0, -(l.retention.HourlyMonths - 1), 0)
	keepFrom := start.AddDate(0, -(l.retention.Months - 1), 0)
	var removed []Entry
	added := map[bucket]float64{}
	for b, cost := range l.hours {
		if !b.hour.Before(hourlyFrom) {
			continue
		}
		e := Entry{Hour: b.hour, Project: b.project, Service: b.service, Instance: b.instance, Resource: b.resource, Cost: cost}
		if b.hour.Before(keepFrom) {
			removed = append(removed, e)
			continue
		}
		day := l.dayStart(b.hour)
		if b.instance == "" && b.hour.Equal(day) {
			continue // already a daily rollup
		}
		removed = append(removed, e)
		added[bucket{hour: day, project: b.project, service: b.service, resource: b.resource}] += cost
	}
	if len(removed) == 0 {
		return 0, nil
	}
	entries := make([]Entry, 0, len(added))
	for b, cost := range added {
		entries = append(entries, Entry{Hour: b.hour, Project: b.project, Service: b.service, Resource: b.resource, Cost: cost})
	}
	if err := l.store.Roll(removed, entries); err != nil {
		return 0, fmt.Errorf("spend: roll up the ledger: %w", err)
	}
	for _, e := range removed {
		delete(l.hours, bucketOf(e, l.tz))
	}
	for _, e := range entries {
		l.hours[bucketOf(e, l.tz)] += e.Cost
	}
	return len(removed), nil
}

func (l *Ledger) dayStart(t time.Time) time.Time {
	lt := t.In(l.tz)
	return time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, l.tz)
}
