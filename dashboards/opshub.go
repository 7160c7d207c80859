package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

func opshubBoard() *dashboard.DashboardBuilder {
	b := newBoard("opshub", "opshub / opshub itself",
		"Each opshub process (the instance variable): API traffic and latency, the controller leader, config reloads, container metric scrapes and the Go runtime.",
		processes)
	b.WithRow(row("API"))
	b.WithPanel(series("Requests per second",
		"HTTP requests the API served, by route and status code.",
		units.RequestsPerSecond,
		q{`sum by (handler, code) (rate(opshub_http_requests_total{` + byProc + `}[$__rate_interval]))`, "{{handler}} {{code}}"}))
	b.WithPanel(series("Latency",
		"Time to serve API requests, by route: 99th percentile.",
		units.Seconds,
		q{`histogram_quantile(0.99, sum by (handler, le) (rate(opshub_http_request_duration_seconds_bucket{` + byProc + `}[$__rate_interval])))`, "{{handler}} p99"}))

	b.WithRow(row("Controller"))
	b.WithPanel(series("Leader",
		"1 for the process that leads (runs alerting, autoscaling, spend and the API), 0 for followers. The sum over all controllers is 1 when all is well (alert OpshubNoControllerLeader).",
		units.Short,
		q{`max by (instance) (opshub_controller_leader{` + byProc + `})`, "{{instance}}"},
		q{`sum(opshub_controller_leader)`, "leaders"}))
	b.WithPanel(series("Config reloads",
		"Reloads per interval by result, and whether the last one applied (1) or was refused (0, the running config kept; alert OpshubConfigReloadFailed).",
		units.Short,
		q{`sum by (instance, result) (increase(opshub_config_reloads_total{` + byProc + `}[$__rate_interval]))`, "{{instance}} {{result}}"},
		q{`min by (instance) (opshub_config_last_reload_successful{` + byProc + `})`, "{{instance}} last applied"}))
	b.WithPanel(series("Container metric scrapes",
		"99th percentile time to read every container's metrics (cgroups and /proc, or the kubelet), and failed scrapes per second.",
		units.Seconds,
		q{`histogram_quantile(0.99, sum by (instance, le) (rate(opshub_metrics_scrape_duration_seconds_bucket{` + byProc + `}[$__rate_interval])))`, "{{instance}} p99"},
		q{`sum by (instance) (rate(opshub_metrics_scrape_errors_total{` + byProc + `}[$__rate_interval]))`, "{{instance}} errors/s"}))
	b.WithPanel(series("Container series held",
		"Container metric series kept in memory (one hour of history each).",
		units.Short,
		q{`sum by (instance) (opshub_metrics_series{` + byProc + `})`, "{{instance}}"}))

	b.WithRow(row("Process"))
	b.WithPanel(series("CPU",
		"CPU the opshub process used, in cores.",
		cores,
		q{`sum by (instance) (rate(process_cpu_seconds_total{` + byProc + `}[$__rate_interval]))`, "{{instance}}"}))
	b.WithPanel(series("Memory",
		"Resident memory of the process and the Go heap in use.",
		units.BytesIEC,
		q{`sum by (instance) (process_resident_memory_bytes{` + byProc + `})`, "{{instance}} resident"},
		q{`sum by (instance) (go_memstats_heap_inuse_bytes{` + byProc + `})`, "{{instance}} heap in use"}))
	b.WithPanel(series("Goroutines and open files",
		"Goroutines of the process, and its open file descriptors (log files, buffers, connections).",
		units.Short,
		q{`sum by (instance) (go_goroutines{` + byProc + `})`, "{{instance}} goroutines"},
		q{`sum by (instance) (process_open_fds{` + byProc + `})`, "{{instance}} open files"}))
	b.WithPanel(series("Garbage collection",
		"Share of the time spent in stop-the-world garbage collection pauses.",
		units.PercentUnit,
		q{`sum by (instance) (rate(go_gc_duration_seconds_sum{` + byProc + `}[$__rate_interval]))`, "{{instance}}"}))
	b.WithPanel(series("Version",
		"The opshub version each process runs (1 per version).",
		units.Short,
		q{`max by (instance, version) (opshub_build_info{` + byProc + `})`, "{{instance}} {{version}}"}))
	return b
}
