package spend

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	mtdDesc = prometheus.NewDesc("opshub_spend_month_to_date",
		"Spend of the current billing month so far, in the configured currency, per project.",
		[]string{"project", "currency"}, nil)
	forecastDesc = prometheus.NewDesc("opshub_spend_forecast",
		"Forecast spend of the current billing month, in the configured currency, per project; method is linear (the month so far extended) or week (the last 7 days' pace).",
		[]string{"project", "method", "currency"}, nil)
)

// Describe implements prometheus.Collector.
func (m *Meter) Describe(ch chan<- *prometheus.Desc) {
	ch <- mtdDesc
	ch <- forecastDesc
}

// Collect implements prometheus.Collector: month-to-date spend and both
// forecasts for every project that has spent anything this month.
func (m *Meter) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	cur := m.opts.Currency
	for _, p := range m.opts.Ledger.projects(now) {
		ch <- prometheus.MustNewConstMetric(mtdDesc, prometheus.GaugeValue, m.opts.Ledger.MonthToDate(now, p), p, cur)
		f := m.opts.Ledger.ForecastFor(now, p)
		ch <- prometheus.MustNewConstMetric(forecastDesc, prometheus.GaugeValue, f.Month, p, "linear", cur)
		ch <- prometheus.MustNewConstMetric(forecastDesc, prometheus.GaugeValue, f.Week, p, "week", cur)
	}
}

// projects lists the projects with costs in the billing month holding now.
func (l *Ledger) projects(now time.Time) []string {
	start, end := l.Month(now)
	var out []string
	for b := range l.hours {
		if !b.hour.Before(start) && b.hour.Before(end) && !slices.Contains(out, b.project) {
			out = append(out, b.project)
		}
	}
	slices.Sort(out)
	return out
}
