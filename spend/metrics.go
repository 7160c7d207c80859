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
	serviceDesc = prometheus.NewDesc("opshub_spend_service_month_to_date",
		"Spend of the current billing month so far, in the configured currency, per service and resource (cpu, memory, volume).",
		[]string{"project", "service", "resource", "currency"}, nil)
	budgetDesc = prometheus.NewDesc("opshub_spend_budget",
		"The highest spend.alerts amount of a project (project empty: of all projects together), in the configured currency; lower amounts warn earlier.",
		[]string{"project", "currency"}, nil)
)

// Describe implements prometheus.Collector.
func (m *Meter) Describe(ch chan<- *prometheus.Desc) {
	ch <- mtdDesc
	ch <- forecastDesc
	ch <- serviceDesc
	ch <- budgetDesc
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
	start, end := m.opts.Ledger.Month(now)
	for _, r := range m.opts.Ledger.Report(now, start, end, []string{"service", "resource"}).Rows {
		ch <- prometheus.MustNewConstMetric(serviceDesc, prometheus.GaugeValue, r.Cost, r.Project, r.Service, string(r.Resource), cur)
	}
	budgets := map[string]float64{}
	for _, t := range m.opts.Thresholds {
		budgets[t.Project] = max(budgets[t.Project], t.Amount)
	}
	for p, amount := range budgets {
		ch <- prometheus.MustNewConstMetric(budgetDesc, prometheus.GaugeValue, amount, p, cur)
	}
}

// projects lists the projects with costs in the billing month holding now.
func (l *Ledger) projects(now time.Time) []string {
	start, end := l.Month(now)
	var out []string
	for s, v := range l.totals(start, end, nil) {
		if p := l.series[s].Project; v != 0 && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
