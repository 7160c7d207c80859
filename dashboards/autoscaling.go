package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// scaled are the variables of the autoscaling dashboard: services with a
// policy.
var scaled = varSource{
	services:          "opshub_autoscaler_max_replicas",
	instances:         "opshub_container_memory_working_set_bytes",
	instanceLabel:     "Instance",
	instanceByService: true,
}

func autoscalingBoard() *dashboard.DashboardBuilder {
	b := newBoard("autoscaling", "opshub / Autoscaling",
		"Services with an autoscaling policy: current against desired replicas within their bounds, utilization against target, and what limited each decision.",
		scaled)
	b.WithPanel(series("Current vs desired replicas",
		"Replicas when the autoscaler last decided, what it decided, and the policy's bounds.",
		units.Short,
		q{`max by (project, service) (opshub_autoscaler_current_replicas{` + bySvc + `})`, "{{project}}/{{service}} current"},
		q{`max by (project, service) (opshub_autoscaler_desired_replicas{` + bySvc + `})`, "{{project}}/{{service}} desired"},
		q{`max by (project, service) (opshub_autoscaler_min_replicas{` + bySvc + `})`, "{{project}}/{{service}} min"},
		q{`max by (project, service) (opshub_autoscaler_max_replicas{` + bySvc + `})`, "{{project}}/{{service}} max"}))
	b.WithPanel(series("Utilization vs target",
		"Average utilization of each resource in percent of the request, as the last decision measured it, against the policy's target.",
		units.Percent,
		q{`max by (project, service, resource) (opshub_autoscaler_utilization_percent{` + bySvc + `})`, "{{project}}/{{service}} {{resource}}"},
		q{`max by (project, service, resource) (opshub_autoscaler_target_utilization_percent{` + bySvc + `})`, "{{project}}/{{service}} {{resource}} target"}))
	b.WithPanel(series("Limited decisions",
		"Decisions that did not follow the metrics, by what limited them: stabilization window, policy limit, min or max replicas, an invalid metric, a missing request, an HPA that owns the service.",
		units.Short,
		q{`sum by (project, service, limit) (increase(opshub_autoscaler_decisions_total{limit!~"within_range|tolerance", ` + bySvc + `}[$__rate_interval]))`, "{{project}}/{{service}} {{limit}}"}))
	b.WithPanel(series("Decisions",
		"Every decision per interval by its limit, within_range and tolerance included (one pass every autoscaling.interval, 15 s by default).",
		units.Short,
		q{`sum by (project, service, limit) (increase(opshub_autoscaler_decisions_total{` + bySvc + `}[$__rate_interval]))`, "{{project}}/{{service}} {{limit}}"}))
	b.WithPanel(series("Ready instances",
		"Instances that are ready against the replicas the service should run: a scale-up shows here once its new instances pass readiness.",
		units.Short,
		q{`sum by (project, service) (opshub_service_ready_instances{` + bySvc + `})`, "{{project}}/{{service}} ready"},
		q{`sum by (project, service) (opshub_service_desired_replicas{` + bySvc + `})`, "{{project}}/{{service}} desired"}))
	return b
}
