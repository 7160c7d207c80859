package spend

import (
	"fmt"
	"time"
)

// Retention is how long the ledger keeps each level of detail, counted in
// calendar months of the billing time zone, the current month included.
type Retention struct {
	// HourlyMonths keep hourly costs per series and the instances'
	// monthly totals: 2 keeps the current and the previous month.
	HourlyMonths int
	// Months are kept at all. Those past HourlyMonths keep daily costs
	// per series; older months are dropped.
	Months int
}

// DefaultRetention keeps hours and instances for the current and the
// previous month and days for a year.
var DefaultRetention = Retention{HourlyMonths: 2, Months: 12}

// Validate reports a retention that cannot be applied.
func (r Retention) Validate() error {
	if r.HourlyMonths < 1 {
		return fmt.Errorf("spend: retention keeps hours for %d months, want 1 or more (the current month)", r.HourlyMonths)
	}
	if r.Months < r.HourlyMonths {
		return fmt.Errorf("spend: retention keeps %d months, fewer than the %d that keep hours", r.Months, r.HourlyMonths)
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

// Compact applies the retention: it rolls the hours of months past
// HourlyMonths into days per series (project, service and resource), drops
// their instances' totals, and drops every hour and day of months past
// Months. So the ledger holds HourlyMonths of hours per series with their
// instances' monthly totals, then days per series, and nothing older.
// Totals, months and per-project, per-service and per-resource breakdowns
// of the months kept are unchanged; reports on rolled-up months lose the
// instance and the hour. A series with no cost left frees its column. It
// commits through the store in one transaction and returns the number of
// records (hours, days, instance totals of a service's month) it rolled up
// or dropped.
func (l *Ledger) Compact(now time.Time) (int, error) {
	start, _ := l.Month(now)
	hourlyFrom := start.AddDate(0, -(l.retention.HourlyMonths - 1), 0)
	keepFrom := start.AddDate(0, -(l.retention.Months - 1), 0)
	hourly, keep, hourlyMonth := l.hourIndex(hourlyFrom), l.dayIndex(keepFrom), l.monthIndex(hourlyFrom)
	var b Batch
	n := 0
	days := map[int64][]int64{}
	first, end := l.hours.span()
	for i := first; i < min(end, hourly); i++ {
		row := l.hours.at(i)
		if row == nil {
			continue
		}
		n++
		b.DropHours = append(b.DropHours, l.hourAt(i))
		d := l.dayIndex(l.hourAt(i))
		if d < keep {
			continue
		}
		day, ok := days[d]
		if !ok {
			day = append([]int64(nil), l.days.at(d)...)
		}
		day = growTo(day, len(row))
		for s, v := range row {
			day[s] += v
		}
		days[d] = day
	}
	first, end = l.days.span()
	for d := first; d < min(end, keep); d++ {
		if l.days.at(d) != nil {
			n++
			b.DropDays = append(b.DropDays, dayKey(d))
		}
	}
	for k := range l.instances {
		if k.month < hourlyMonth {
			n++
			b.DropInstances = append(b.DropInstances, InstanceCosts{Month: monthKey(k.month), Project: k.project, Service: k.service})
		}
	}
	if n == 0 {
		return 0, nil
	}
	for d, row := range days {
		b.Days = append(b.Days, DayCosts{Day: dayKey(d), Costs: row})
	}
	// The columns left without any cost are freed.
	used := make([]bool, len(l.series))
	mark := func(row []int64) {
		for s, v := range row {
			if v != 0 {
				used[s] = true
			}
		}
	}
	first, end = l.hours.span()
	for i := max(first, hourly); i < end; i++ {
		mark(l.hours.at(i))
	}
	first, end = l.days.span()
	for d := max(first, keep); d < end; d++ {
		if row, ok := days[d]; ok {
			mark(row)
		} else {
			mark(l.days.at(d))
		}
	}
	for s, x := range l.series {
		if !used[s] && x != (Series{}) && l.residual[s] == 0 && !l.unsaved[s] {
			b.DropSeries = append(b.DropSeries, s)
		}
	}
	if err := l.store.Write(b); err != nil {
		return 0, fmt.Errorf("spend: roll up the ledger: %w", err)
	}
	l.hours.dropBefore(hourly)
	for d, row := range days {
		l.days.set(d, row)
	}
	l.days.dropBefore(keep)
	for k := range l.instances {
		if k.month < hourlyMonth {
			delete(l.instances, k)
		}
	}
	for _, s := range b.DropSeries {
		delete(l.index, l.series[s])
		l.series[s] = Series{}
	}
	return n, nil
}
