package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

func alertsBoard() *dashboard.DashboardBuilder {
	b := newBoard("alerts", "opshub / Alerts and notifications",
		"Events opshub noticed and what became of them, deliveries to each integration by result, disabled integrations and the notification outbox of each opshub process (the instance variable).",
		processes)
	b.WithRow(row("Events"))
	b.WithPanel(series("Events by name",
		"Events that entered the alerting pipeline within each interval, by event name (container.crash, volume.usage, deploy.failed, …).",
		units.Short,
		q{`sum by (event) (increase(opshub_alerting_events_received_total{` + byProc + `}[$__rate_interval]))`, "{{event}}"}))
	b.WithPanel(series("Events by outcome",
		"What became of each event: routed to integrations, unrouted (no integration takes it), silenced, throttled (already notified within the window), resolved_unknown, error.",
		units.Short,
		q{`sum by (outcome) (increase(opshub_alerting_events_total{` + byProc + `}[$__rate_interval]))`, "{{outcome}}"}))
	b.WithPanel(series("Dropped events and missing last lines",
		"Events dropped because the pipeline's queue was full, and crash events sent without the container's last lines.",
		units.Short,
		q{`sum by (instance) (increase(opshub_alerting_events_dropped_total{` + byProc + `}[$__rate_interval]))`, "{{instance}} dropped"},
		q{`sum by (instance) (increase(opshub_alerting_last_lines_failures_total{` + byProc + `}[$__rate_interval]))`, "{{instance}} without last lines"}))

	b.WithRow(row("Deliveries"))
	b.WithPanel(series("Delivery attempts by result",
		"Attempts to deliver notifications, per integration and result: ok, retry (will be tried again), failed (given up), gone (the destination no longer exists).",
		units.Short,
		q{`sum by (integration, result) (increase(opshub_alerting_delivery_attempts_total{` + byProc + `}[$__rate_interval]))`, "{{integration}} {{result}}"}))
	b.WithPanel(series("Delivery latency",
		"Time from an event to its successful delivery, per integration: median and 99th percentile.",
		units.Seconds,
		q{`histogram_quantile(0.5, sum by (integration, le) (rate(opshub_alerting_delivery_latency_seconds_bucket{` + byProc + `}[$__rate_interval])))`, "{{integration}} p50"},
		q{`histogram_quantile(0.99, sum by (integration, le) (rate(opshub_alerting_delivery_latency_seconds_bucket{` + byProc + `}[$__rate_interval])))`, "{{integration}} p99"}))
	b.WithPanel(series("Outbox backlog",
		"Deliveries waiting in the durable outbox for their (next) attempt, per integration. A backlog that keeps growing is an integration that cannot keep up or keeps failing (alert OpshubOutboxGrowing).",
		units.Short,
		q{`sum by (integration) (opshub_alerting_outbox_pending{` + byProc + `})`, "{{integration}}"}))
	b.WithPanel(series("Disabled integrations",
		"1 while an integration is disabled after persistent failure (resend a delivery or change its config to enable it again).",
		units.Short,
		q{`max by (integration) (opshub_alerting_integration_disabled{` + byProc + `})`, "{{integration}}"}))
	return b
}
