package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// Label matchers on the dashboards' variables, to put inside {…}.
const (
	// bySvc selects a service's series.
	bySvc = `project=~"$project", service=~"$service"`
	// byInst selects an instance's container series.
	byInst = `project=~"$project", service=~"$service", instance=~"$instance"`
	// byProc selects an opshub process's own series.
	byProc = `instance=~"$instance"`
)

// cores is the unit of CPU use, requests and limits.
const cores = "suffix: cores"

func servicesBoard() *dashboard.DashboardBuilder {
	b := newBoard("services", "opshub / Services overview",
		"Every service opshub runs or watches: instances ready against desired, restarts, CPU and memory against requests and limits, and log lines.",
		containers)
	b.WithRow(row("Instances"))
	b.WithPanel(series("Ready vs desired instances",
		"Instances of each service that pass readiness, against the replicas it should run. A gap that lasts is a service that cannot start, crashes, or fails its probes.",
		units.Short,
		q{`sum by (project, service) (opshub_service_ready_instances{` + bySvc + `})`, "{{project}}/{{service}} ready"},
		q{`sum by (project, service) (opshub_service_desired_replicas{` + bySvc + `})`, "{{project}}/{{service}} desired"}))
	b.WithPanel(series("Restarts",
		"Container restarts per service within each interval. Repeated restarts become a container.crashloop alert.",
		units.Short,
		q{`sum by (project, service) (increase(opshub_container_restarts_total{` + byInst + `}[$__rate_interval]))`, "{{project}}/{{service}}"}))
	b.WithPanel(series("Instances by status",
		"Instances of each service by container status (Staging, Starting, Running, Crashing, Terminating, Terminated, Failed). One machine (opshub run) only.",
		units.Short,
		q{`sum by (project, service, status) (opshub_local_instances{` + bySvc + `}) > 0`, "{{project}}/{{service}} {{status}}"}))
	b.WithPanel(series("Failing probes",
		"Probes whose last run failed, per service and probe type. Readiness failures take an instance out of the proxy; liveness failures restart it.",
		units.Short,
		q{`sum by (project, service, probe_type) (1 - opshub_probe_success{` + byInst + `})`, "{{project}}/{{service}} {{probe_type}}"}))

	b.WithRow(row("Resources"))
	b.WithPanel(series("CPU against requests and limits",
		"CPU used by each service's containers, in cores, with the sum of their requests and limits.",
		cores,
		q{`sum by (project, service) (rate(opshub_container_cpu_usage_seconds_total{` + byInst + `}[$__rate_interval]))`, "{{project}}/{{service}} used"},
		q{`sum by (project, service) (opshub_container_spec_cpu_request_cores{` + byInst + `})`, "{{project}}/{{service}} requested"},
		q{`sum by (project, service) (opshub_container_spec_cpu_limit_cores{` + byInst + `})`, "{{project}}/{{service}} limit"}))
	b.WithPanel(series("Memory against requests and limits",
		"Working set of each service's containers (what the kernel cannot reclaim), with the sum of their requests and limits.",
		units.BytesIEC,
		q{`sum by (project, service) (opshub_container_memory_working_set_bytes{` + byInst + `})`, "{{project}}/{{service}} working set"},
		q{`sum by (project, service) (opshub_container_spec_memory_request_bytes{` + byInst + `})`, "{{project}}/{{service}} requested"},
		q{`sum by (project, service) (opshub_container_spec_memory_limit_bytes{` + byInst + `})`, "{{project}}/{{service}} limit"}))
	b.WithPanel(series("CPU in percent of request",
		"CPU used in percent of the CPU requested, per service, over 5 minutes (recording rule project_service:opshub_container_cpu_request:percent5m). The autoscaler's CPU utilization is this ratio.",
		units.Percent,
		q{`project_service:opshub_container_cpu_request:percent5m{` + bySvc + `}`, "{{project}}/{{service}}"}))
	b.WithPanel(series("Memory in percent of limit",
		"Working set in percent of the memory limit, per service (recording rule project_service:opshub_container_memory_limit:percent). Near 100 % the kernel kills the container (container.oom).",
		units.Percent,
		q{`project_service:opshub_container_memory_limit:percent{` + bySvc + `}`, "{{project}}/{{service}}"}))

	b.WithRow(row("Logs"))
	b.WithPanel(series("Log lines per second",
		"Lines each service's containers wrote, as the log collector read them.",
		units.CountsPerSecond,
		q{`sum by (project, service) (rate(opshub_container_log_lines_total{` + byInst + `}[$__rate_interval]))`, "{{project}}/{{service}}"}))
	return b
}
