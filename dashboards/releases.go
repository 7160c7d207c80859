package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// released are the variables of the releases dashboard: services with
// rollouts.
var released = varSource{
	services:          "opshub_release_rollouts_total",
	instances:         "opshub_container_memory_working_set_bytes",
	instanceLabel:     "Instance",
	instanceByService: true,
}

func releasesBoard() *dashboard.DashboardBuilder {
	b := newBoard("releases", "opshub / Releases",
		"Rollouts of new releases per service: deploys by result, failures, rollbacks and how long rollouts take.",
		released)
	b.WithPanel(single("Deploys in the time range",
		"Rollouts that finished within the dashboard's time range, all selected services together.",
		units.Short,
		q{`sum(increase(opshub_release_rollouts_total{` + bySvc + `}[$__range]))`, "deploys"}))
	b.WithPanel(single("In progress",
		"Rollouts under way now.",
		units.Short,
		q{`sum(opshub_release_in_progress{` + bySvc + `})`, "in progress"}))
	b.WithPanel(series("Rollouts by result",
		"Rollouts that finished within each interval, per service and result: succeeded, failed (the progress deadline passed or new instances crash-looped), rolled_back, superseded (a newer release replaced it).",
		units.Short,
		q{`sum by (project, service, result) (increase(opshub_release_rollouts_total{` + bySvc + `}[$__rate_interval]))`, "{{project}}/{{service}} {{result}}"}))
	b.WithPanel(series("Failures",
		"Rollouts that failed or were rolled back within each interval, per service.",
		units.Short,
		q{`sum by (project, service) (increase(opshub_release_rollouts_total{result=~"failed|rolled_back", ` + bySvc + `}[$__rate_interval]))`, "{{project}}/{{service}}"}))
	b.WithPanel(series("Rollbacks",
		"Rollbacks within each interval, per service and trigger: manual (opshub rollback, the API) or auto (release.autoRollback after a failed rollout).",
		units.Short,
		q{`sum by (project, service, trigger) (increase(opshub_release_rollbacks_total{` + bySvc + `}[$__rate_interval]))`, "{{project}}/{{service}} {{trigger}}"}))
	b.WithPanel(series("Rollout duration",
		"Time from a rollout's start to its end, per service: median and 95th percentile of the rollouts that ended within each interval.",
		units.Seconds,
		q{`histogram_quantile(0.5, sum by (project, service, le) (rate(opshub_release_rollout_duration_seconds_bucket{` + bySvc + `}[$__rate_interval])))`, "{{project}}/{{service}} p50"},
		q{`histogram_quantile(0.95, sum by (project, service, le) (rate(opshub_release_rollout_duration_seconds_bucket{` + bySvc + `}[$__rate_interval])))`, "{{project}}/{{service}} p95"}))
	b.WithPanel(series("Rollouts under way",
		"1 while a rollout of the service is in progress.",
		units.Short,
		q{`max by (project, service) (opshub_release_in_progress{` + bySvc + `})`, "{{project}}/{{service}}"}))
	return b
}
