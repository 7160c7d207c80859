package spend

import (
	"cmp"
	"slices"
	"time"
)

// Row is one line of a breakdown; fields not broken down by are empty.
type Row struct {
	Project  string   `json:"project,omitempty"`
	Service  string   `json:"service,omitempty"`
	Instance string   `json:"instance,omitempty"`
	Resource Resource `json:"resource,omitempty"`
	Cost     float64  `json:"cost"`
}

// Forecast is a month-end estimate, two ways.
type Forecast struct {
	// Month extrapolates the month so far linearly to its end.
	Month float64 `json:"month"`
	// Week extrapolates the rate of the last 7 days from now to the month's
	// end, on top of the month to date; it reacts to a change of pace.
	Week float64 `json:"week"`
}

// Report is spend over a period with its breakdown.
type Report struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Total    float64   `json:"total"`
	Forecast Forecast  `json:"forecast"`
	Rows     []Row     `json:"rows"`
}

// Month returns the start and end of the billing month holding t.
func (l *Ledger) Month(t time.Time) (start, end time.Time) {
	lt := t.In(l.tz)
	start = time.Date(lt.Year(), lt.Month(), 1, 0, 0, 0, 0, l.tz)
	return start, start.AddDate(0, 1, 0)
}

// sum adds the buckets whose hour lies in [from, to) and that keep pass.
func (l *Ledger) sum(from, to time.Time, keep func(bucket) bool) float64 {
	total := 0.0
	for b, c := range l.hours {
		if !b.hour.Before(from) && b.hour.Before(to) && (keep == nil || keep(b)) {
			total += c
		}
	}
	return total
}

// MonthToDate returns the month's spend so far, for one project or, with
// project "", in total.
func (l *Ledger) MonthToDate(now time.Time, project string) float64 {
	start, _ := l.Month(now)
	return l.sum(start, now.Add(time.Hour), projectFilter(project))
}

func projectFilter(project string) func(bucket) bool {
	if project == "" {
		return nil
	}
	return func(b bucket) bool { return b.project == project }
}

// ForecastFor estimates the month-end spend of one project or, with "", in
// total.
func (l *Ledger) ForecastFor(now time.Time, project string) Forecast {
	start, end := l.Month(now)
	mtd := l.MonthToDate(now, project)
	var f Forecast
	if elapsed := now.Sub(start); elapsed > 0 {
		f.Month = mtd * float64(end.Sub(start)) / float64(elapsed)
	}
	window := 7 * 24 * time.Hour
	weekStart := now.Add(-window)
	weekSpend := l.sum(l.hourStart(weekStart), now.Add(time.Hour), projectFilter(project))
	f.Week = mtd + weekSpend/float64(window)*float64(end.Sub(now))
	return f
}

// Report breaks down spend in [from, to) by the given dimensions (project,
// service, instance, resource), with the forecast of the month holding to.
func (l *Ledger) Report(now, from, to time.Time, by []string) Report {
	dims := map[string]bool{}
	for _, d := range by {
		dims[d] = true
	}
	rows := map[Row]float64{}
	total := 0.0
	for b, c := range l.hours {
		if b.hour.Before(l.hourStart(from)) || !b.hour.Before(to) {
			continue
		}
		var r Row
		if dims["project"] || dims["service"] || dims["instance"] {
			r.Project = b.project
		}
		if dims["service"] || dims["instance"] {
			r.Service = b.service
		}
		if dims["instance"] {
			r.Instance = b.instance
		}
		if dims["resource"] {
			r.Resource = b.resource
		}
		rows[r] += c
		total += c
	}
	out := Report{From: from, To: to, Total: total, Forecast: l.ForecastFor(now, ""), Rows: make([]Row, 0, len(rows))}
	for r, c := range rows {
		r.Cost = c
		out.Rows = append(out.Rows, r)
	}
	slices.SortFunc(out.Rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Resource, b.Resource))
	})
	return out
}
