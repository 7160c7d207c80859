package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

func logsBoard() *dashboard.DashboardBuilder {
	b := newBoard("logs", "opshub / Log pipeline",
		"The log collector and the sinks of each opshub process (the instance variable): lines and bytes read, lag behind the files, sink batches, buffers, retries, dead letters and truncated lines.",
		processes)
	b.WithRow(row("Collector"))
	b.WithPanel(series("Lines read per second",
		"Log lines the collector read from container log files and handed to the sinks.",
		units.CountsPerSecond,
		q{`sum by (instance) (rate(opshub_collector_lines_total{` + byProc + `}[$__rate_interval]))`, "{{instance}}"}))
	b.WithPanel(series("Bytes read per second",
		"Bytes the collector read from container log files.",
		units.BytesPerSecondIEC,
		q{`sum by (instance) (rate(opshub_collector_read_bytes_total{` + byProc + `}[$__rate_interval]))`, "{{instance}}"}))
	b.WithPanel(series("Lag behind the files",
		"Bytes written to log files that the collector has not read yet, summed and for the file furthest behind. A lag that keeps growing is a collector that cannot keep up (alert OpshubCollectorFallingBehind).",
		units.BytesIEC,
		q{`sum by (instance) (opshub_collector_file_behind_bytes{` + byProc + `})`, "{{instance}} total"},
		q{`max by (instance) (opshub_collector_file_behind_bytes{` + byProc + `})`, "{{instance}} furthest file"}))
	b.WithPanel(series("Waiting for the sinks",
		"Share of the time tailing waited for the sinks or the in-flight budget (back-pressure): the files are the buffer then.",
		units.PercentUnit,
		q{`sum by (instance) (rate(opshub_collector_backpressure_seconds_total{` + byProc + `}[$__rate_interval]))`, "{{instance}}"}))
	b.WithPanel(series("Truncated and unparsed lines",
		"Lines longer than collector.maxLineBytes (cut and marked, never dropped), and lines that did not parse as their file's format (passed on raw).",
		units.CountsPerSecond,
		q{`sum by (instance) (rate(opshub_collector_truncated_lines_total{` + byProc + `}[$__rate_interval]))`, "{{instance}} truncated"},
		q{`sum by (instance, format) (rate(opshub_collector_parse_errors_total{` + byProc + `}[$__rate_interval]))`, "{{instance}} unparsed {{format}}"}))
	b.WithPanel(series("Open files and checkpoint age",
		"Log files held open, and seconds since the checkpoint file was last written (positions survive a restart up to this age).",
		units.Short,
		q{`sum by (instance) (opshub_collector_open_files{` + byProc + `})`, "{{instance}} open files"},
		q{`max by (instance) (time() - opshub_collector_checkpoint_last_write_timestamp_seconds{` + byProc + `})`, "{{instance}} checkpoint age (s)"}))

	b.WithRow(row("Sinks"))
	b.WithPanel(series("Records per second by result",
		"Log records per sink: sent (accepted by the destination), failed (in a failed attempt), retried (sent again), dead_lettered (refused for good, written to the dead-letter file).",
		units.RecordsPerSecond,
		q{`sum by (sink, result) (rate(opshub_sink_events_total{` + byProc + `}[$__rate_interval]))`, "{{sink}} {{result}}"}))
	b.WithPanel(series("Batches delivered per second",
		"Batches each destination accepted.",
		units.OpsPerSecond,
		q{`sum by (sink) (rate(opshub_sink_delivery_latency_seconds_count{` + byProc + `}[$__rate_interval]))`, "{{sink}}"}))
	b.WithPanel(series("Delivery latency",
		"Time from a batch's oldest record entering the sink's buffer to the destination accepting it: median and 99th percentile.",
		units.Seconds,
		q{`histogram_quantile(0.5, sum by (sink, le) (rate(opshub_sink_delivery_latency_seconds_bucket{` + byProc + `}[$__rate_interval])))`, "{{sink}} p50"},
		q{`histogram_quantile(0.99, sum by (sink, le) (rate(opshub_sink_delivery_latency_seconds_bucket{` + byProc + `}[$__rate_interval])))`, "{{sink}} p99"}))
	b.WithPanel(series("Buffer",
		"Bytes waiting in each sink's on-disk buffer, and the collector's bytes handed to the sinks and not yet acknowledged. A buffer that fills means the destination is down or slow (alert OpshubSinkBufferFilling).",
		units.BytesIEC,
		q{`sum by (sink) (opshub_sink_buffer_bytes{` + byProc + `})`, "{{sink}} buffered"},
		q{`sum by (instance) (opshub_collector_inflight_bytes{` + byProc + `})`, "{{instance}} in flight"}))
	b.WithPanel(series("Retries and dead letters",
		"Records sent again after a failed attempt, and records refused for good and written to the dead-letter file.",
		units.RecordsPerSecond,
		q{`sum by (sink) (rate(opshub_sink_events_total{result="retried", ` + byProc + `}[$__rate_interval]))`, "{{sink}} retried"},
		q{`sum by (sink) (rate(opshub_sink_events_total{result="dead_lettered", ` + byProc + `}[$__rate_interval]))`, "{{sink}} dead letters"}))
	b.WithPanel(series("Full buffers",
		"Times per second a full sink buffer made the collector wait.",
		units.OpsPerSecond,
		q{`sum by (sink) (rate(opshub_sink_backpressure_total{` + byProc + `}[$__rate_interval]))`, "{{sink}}"}))
	return b
}
