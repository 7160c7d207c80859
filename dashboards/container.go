package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

func containerBoard() *dashboard.DashboardBuilder {
	b := newBoard("container", "opshub / Container detail",
		"One instance at a time (pick it in the instance variable): CPU, memory, network, disk, volumes, probes, restarts and log lines of its containers.",
		containers)
	b.WithRow(row("CPU and memory"))
	b.WithPanel(series("CPU",
		"CPU used by each container, in cores, with its request and limit.",
		cores,
		q{`sum by (instance, container) (rate(opshub_container_cpu_usage_seconds_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}} used"},
		q{`sum by (instance, container) (opshub_container_spec_cpu_request_cores{` + byInst + `})`, "{{instance}}/{{container}} requested"},
		q{`sum by (instance, container) (opshub_container_spec_cpu_limit_cores{` + byInst + `})`, "{{instance}}/{{container}} limit"}))
	b.WithPanel(series("CPU in percent of limit",
		"CPU used in percent of the container's limit; container.cpu-spike and container.cpu-sustained fire at alerts.cpu.threshold (90 % by default).",
		units.Percent,
		q{`100 * sum by (instance, container) (rate(opshub_container_cpu_usage_seconds_total{` + byInst + `}[$__rate_interval])) / sum by (instance, container) (opshub_container_spec_cpu_limit_cores{` + byInst + `})`, "{{instance}}/{{container}}"}))
	b.WithPanel(series("Memory",
		"Working set (what the kernel cannot reclaim without swapping) and resident set of each container, with its request and limit.",
		units.BytesIEC,
		q{`sum by (instance, container) (opshub_container_memory_working_set_bytes{` + byInst + `})`, "{{instance}}/{{container}} working set"},
		q{`sum by (instance, container) (opshub_container_memory_rss_bytes{` + byInst + `})`, "{{instance}}/{{container}} rss"},
		q{`sum by (instance, container) (opshub_container_spec_memory_request_bytes{` + byInst + `})`, "{{instance}}/{{container}} requested"},
		q{`sum by (instance, container) (opshub_container_spec_memory_limit_bytes{` + byInst + `})`, "{{instance}}/{{container}} limit"}))
	b.WithPanel(series("Restarts",
		"Restarts of each container within each interval.",
		units.Short,
		q{`sum by (instance, container) (increase(opshub_container_restarts_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}}"}))

	b.WithRow(row("Network and disk"))
	b.WithPanel(series("Network",
		"Bytes received and sent per second. On one machine only instances in a network namespace of their own have these series: the host's interfaces would count everyone's traffic.",
		units.BytesPerSecondIEC,
		q{`sum by (instance, container) (rate(opshub_container_network_receive_bytes_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}} received"},
		q{`sum by (instance, container) (rate(opshub_container_network_transmit_bytes_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}} sent"}))
	b.WithPanel(series("Disk",
		"Bytes read from and written to block devices per second.",
		units.BytesPerSecondIEC,
		q{`sum by (instance, container) (rate(opshub_container_fs_read_bytes_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}} read"},
		q{`sum by (instance, container) (rate(opshub_container_fs_write_bytes_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}} written"}))

	b.WithRow(row("Volumes"))
	b.WithPanel(series("Volume usage",
		"Bytes used on each volume of the service, against its capacity.",
		units.BytesIEC,
		q{`sum by (service, volume) (opshub_volume_used_bytes{` + bySvc + `})`, "{{service}}/{{volume}} used"},
		q{`max by (service, volume) (opshub_volume_capacity_bytes{` + bySvc + `})`, "{{service}}/{{volume}} capacity"}))
	b.WithPanel(series("Volume used in percent",
		"Used bytes in percent of the capacity; volume.usage fires at alerts.volume.thresholds (75 % and 90 % by default).",
		units.Percent,
		q{`100 * sum by (service, volume) (opshub_volume_used_bytes{` + bySvc + `}) / max by (service, volume) (opshub_volume_capacity_bytes{` + bySvc + `})`, "{{service}}/{{volume}}"}))

	b.WithRow(row("Probes and logs"))
	b.WithPanel(series("Probe results",
		"1 when the last run of each probe passed, 0 when it failed.",
		units.Short,
		q{`max by (instance, container, probe_type) (opshub_probe_success{` + byInst + `})`, "{{instance}}/{{container}} {{probe_type}}"}))
	b.WithPanel(series("Probe latency",
		"How long the last run of each probe took.",
		units.Seconds,
		q{`max by (instance, container, probe_type) (opshub_probe_duration_seconds{` + byInst + `})`, "{{instance}}/{{container}} {{probe_type}}"}))
	b.WithPanel(series("Log lines per second",
		"Lines each container wrote, as the log collector read them.",
		units.CountsPerSecond,
		q{`sum by (instance, container) (rate(opshub_container_log_lines_total{` + byInst + `}[$__rate_interval]))`, "{{instance}}/{{container}}"}))
	return b
}
