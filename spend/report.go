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

// totals returns, per series, the nanos of the hours and days that start in
// [from, to); only of the columns cols, or of all with cols nil.
func (l *Ledger) totals(from, to time.Time, cols []int) []int64 {
	out := make([]int64, len(l.series))
	addRange(&l.hours, l.hourCeil(from), l.hourCeil(to), cols, out)
	addRange(&l.days, l.dayCeil(from), l.dayCeil(to), cols, out)
	return out
}

// addRange adds the rows [a, b) of r to out.
func addRange(r *rows, a, b int64, cols []int, out []int64) {
	first, end := r.span()
	for i := max(a, first); i < min(b, end); i++ {
		row := r.rows[i-first]
		if cols == nil {
			for s, v := range row {
				out[s] += v
			}
			continue
		}
		for _, s := range cols {
			if s < len(row) {
				out[s] += row[s]
			}
		}
	}
}

// columns are the series of a project, or nil (all) for "".
func (l *Ledger) columns(project string) []int {
	if project == "" {
		return nil
	}
	cols := []int{}
	for s, x := range l.series {
		if x.Project == project {
			cols = append(cols, s)
		}
	}
	return cols
}

// sum is the cost of the hours and days starting in [from, to) of one
// project, or of all with project "".
func (l *Ledger) sum(from, to time.Time, project string) float64 {
	var n int64
	for _, v := range l.totals(from, to, l.columns(project)) {
		n += v
	}
	return float64(n) / nano
}

// MonthToDate returns the month's spend so far, for one project or, with
// project "", in total.
func (l *Ledger) MonthToDate(now time.Time, project string) float64 {
	start, _ := l.Month(now)
	return l.sum(start, now.Add(time.Hour), project)
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
	weekSpend := l.sum(l.hourStart(weekStart), now.Add(time.Hour), project)
	f.Week = mtd + weekSpend/float64(window)*float64(end.Sub(now))
	return f
}

// Report breaks down spend in [from, to) by the given dimensions (project,
// service, instance, resource), with the forecast of the month holding to.
// Every dimension but the instance is exact. By instance, each hourly
// month's part of the range shares its service's cost out to the instances
// charged in that month: in proportion to each instance's cost in the
// month, counted only for the part of the range within the hours between
// its first and last charge. A range of whole months so gives each instance
// exactly its cost; days of rolled-up months, which keep no instances, are
// reported without one.
func (l *Ledger) Report(now, from, to time.Time, by []string) Report {
	dims := map[string]bool{}
	for _, d := range by {
		dims[d] = true
	}
	costs := map[Row]float64{}
	row := func(s int, instance string) Row {
		x := l.series[s]
		var r Row
		if dims["project"] || dims["service"] || dims["instance"] {
			r.Project = x.Project
		}
		if dims["service"] || dims["instance"] {
			r.Service = x.Service
		}
		if dims["instance"] {
			r.Instance = instance
		}
		if dims["resource"] {
			r.Resource = x.Resource
		}
		return r
	}
	start := l.hourStart(from)
	var total int64
	if !dims["instance"] {
		for s, v := range l.totals(start, to, nil) {
			if v != 0 {
				costs[row(s, "")] += float64(v)
				total += v
			}
		}
	} else {
		days := make([]int64, len(l.series))
		addRange(&l.days, l.dayCeil(start), l.dayCeil(to), nil, days)
		for s, v := range days {
			if v != 0 {
				costs[row(s, "")] += float64(v)
				total += v
			}
		}
		first, end := l.hours.span()
		a, b := max(l.hourCeil(start), first), min(l.hourCeil(to), end)
		for a < b {
			month := l.monthIndex(l.hourAt(a))
			_, next := l.Month(l.hourAt(a))
			until := min(b, l.hourCeil(next))
			sums := make([]int64, len(l.series))
			addRange(&l.hours, a, until, nil, sums)
			for s, v := range sums {
				if v == 0 {
					continue
				}
				total += v
				x := l.series[s]
				shares := l.shares(serviceMonth{month, x.Project, x.Service}, resourceIndex(x.Resource), a, until)
				if len(shares) == 0 {
					costs[row(s, "")] += float64(v)
				}
				for name, share := range shares {
					costs[row(s, name)] += float64(v) * share
				}
			}
			a = until
		}
	}
	out := Report{From: from, To: to, Total: float64(total) / nano, Forecast: l.ForecastFor(now, ""), Rows: make([]Row, 0, len(costs))}
	for r, c := range costs {
		r.Cost = c / nano
		out.Rows = append(out.Rows, r)
	}
	slices.SortFunc(out.Rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Project, b.Project), cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Resource, b.Resource))
	})
	return out
}

// shares divides a service's cost of resource res in the hours [a, b) of
// one month among its instances: each weighs its cost in the month times
// the part of its charged hours (first to last) that lies in [a, b). Nil
// when no instance was charged for it in those hours.
func (l *Ledger) shares(k serviceMonth, res int, a, b int64) map[string]float64 {
	m := l.instances[k]
	if m == nil {
		return nil
	}
	weights := map[string]float64{}
	sum := 0.0
	for name, t := range m.instances {
		c := t.costs[res]
		overlap := min(t.last+1, b) - max(t.first, a)
		if c <= 0 || overlap <= 0 {
			continue
		}
		w := c * float64(overlap) / float64(t.last+1-t.first)
		weights[name] = w
		sum += w
	}
	for name := range weights {
		weights[name] /= sum
	}
	return weights
}
