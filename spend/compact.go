package spend

import (
	"fmt"
	"time"
)

// Compact rolls the hourly, per-instance buckets of months before the
// previous one into daily buckets per service and resource, so that the
// ledger grows by about a month of hours per instance and then by days per
// service: a month of 100 instances is 216,000 hourly buckets, its rollup
// a few thousand. Totals, months and per-project and per-service breakdowns
// are unchanged; reports on those months lose the instance and the hour.
// It commits through the store in one transaction and returns the number
// of buckets it rolled up.
func (l *Ledger) Compact(now time.Time) (int, error) {
	start, _ := l.Month(now)
	boundary := start.AddDate(0, -1, 0)
	var removed []Entry
	added := map[bucket]float64{}
	for b, cost := range l.hours {
		if !b.hour.Before(boundary) {
			continue
		}
		day := l.dayStart(b.hour)
		if b.instance == "" && b.hour.Equal(day) {
			continue // already a daily rollup
		}
		removed = append(removed, Entry{Hour: b.hour, Project: b.project, Service: b.service, Instance: b.instance, Resource: b.resource, Cost: cost})
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
