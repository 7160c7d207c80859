package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// spent are the variables of the spend dashboard: services with costs.
var spent = varSource{
	services:          "opshub_spend_service_month_to_date",
	instances:         "opshub_container_memory_working_set_bytes",
	instanceLabel:     "Instance",
	instanceByService: true,
}

func spendBoard() *dashboard.DashboardBuilder {
	b := newBoard("spend", "opshub / Spend",
		"Month-to-date spend by project, service and resource, and the month-end forecasts against the spend.alerts amounts. Amounts are in the configured currency (the currency label).",
		spent)
	b.WithPanel(single("Month to date",
		"Spend of the current billing month so far, all selected projects together.",
		units.Short,
		q{`sum by (currency) (opshub_spend_month_to_date{project=~"$project"})`, "{{currency}}"}))
	b.WithPanel(single("Forecast",
		"Month-end forecast from the last 7 days' pace, all selected projects together.",
		units.Short,
		q{`sum by (currency) (opshub_spend_forecast{method="week", project=~"$project"})`, "{{currency}}"}))
	b.WithPanel(series("Month to date by project",
		"Spend of the current billing month so far, per project.",
		units.Short,
		q{`sum by (project, currency) (opshub_spend_month_to_date{project=~"$project"})`, "{{project}} ({{currency}})"}))
	b.WithPanel(series("Month to date by resource",
		"Spend of the current billing month so far, per project and resource: cpu (max of request and usage), memory, volume (by capacity).",
		units.Short,
		q{`sum by (project, resource, currency) (opshub_spend_service_month_to_date{` + bySvc + `})`, "{{project}} {{resource}} ({{currency}})"}))
	b.WithPanel(series("Month to date by service",
		"Spend of the current billing month so far, per service.",
		units.Short,
		q{`sum by (project, service, currency) (opshub_spend_service_month_to_date{` + bySvc + `})`, "{{project}}/{{service}} ({{currency}})"}))
	b.WithPanel(series("Forecast vs budgets",
		"Month-end forecasts (linear: the month so far extended; week: the last 7 days' pace) per project, against the highest spend.alerts amount of each project (no project: all projects together). spend.forecast fires when the week forecast reaches an amount.",
		units.Short,
		q{`sum by (project, method, currency) (opshub_spend_forecast{project=~"$project"})`, "{{project}} forecast {{method}} ({{currency}})"},
		q{`max by (project, currency) (opshub_spend_budget{project=~"$project"})`, "{{project}} budget ({{currency}})"}))
	return b
}
