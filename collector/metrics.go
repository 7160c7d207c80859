package collector

import (
	"fmt"
	"strconv"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// collectorMetrics are the collector's self-metrics. Per-file series (bytes
// behind the end of each file) live in a VictoriaMetrics set so that they
// disappear with their file.
type collectorMetrics struct {
	lines        prometheus.Counter
	bytes        prometheus.Counter
	openFiles    prometheus.Gauge
	truncated    prometheus.Counter
	parseErrors  *prometheus.CounterVec
	invalidUTF8  prometheus.Counter
	ckptWrites   prometheus.Counter
	ckptErrors   prometheus.Counter
	ckptLastSave prometheus.Gauge
	inflight     prometheus.Gauge
	blocked      prometheus.Counter
	perFile      *vm.Set
}

func newMetrics(reg prometheus.Registerer) (*collectorMetrics, error) {
	m := &collectorMetrics{
		lines: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_lines_total", Help: "Log lines read from container log files and handed to the sinks.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_read_bytes_total", Help: "Bytes read from container log files.",
		}),
		openFiles: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opshub_collector_open_files", Help: "Log files the collector holds open.",
		}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_truncated_lines_total", Help: "Lines longer than collector.maxLineBytes, cut and marked.",
		}),
		parseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_collector_parse_errors_total", Help: "Lines that did not parse as a record of their file's format, passed on raw.",
		}, []string{"format"}),
		invalidUTF8: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_invalid_utf8_lines_total", Help: "Lines whose invalid UTF-8 bytes were replaced by U+FFFD.",
		}),
		ckptWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_checkpoint_writes_total", Help: "Writes of the checkpoint file.",
		}),
		ckptErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_checkpoint_errors_total", Help: "Failed writes of the checkpoint file.",
		}),
		ckptLastSave: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opshub_collector_checkpoint_last_write_timestamp_seconds", Help: "When the checkpoint file was last written; the checkpoint age is time() minus this.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opshub_collector_inflight_bytes", Help: "Bytes of records handed to the sinks and not yet acknowledged (bounded by the in-flight budget).",
		}),
		blocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_collector_backpressure_seconds_total", Help: "Time tailing waited for the sinks or the in-flight budget.",
		}),
		perFile: vm.NewSet(),
	}
	// Each format's parse errors start at 0, so a rate over them is 0
	// rather than no data.
	for _, f := range []format{formatCRI, formatDocker} {
		m.parseErrors.WithLabelValues(f.String())
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lines, m.bytes, m.openFiles, m.truncated, m.parseErrors, m.invalidUTF8, m.ckptWrites, m.ckptErrors, m.ckptLastSave, m.inflight, m.blocked} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("collector: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// behindName is the per-file series of bytes not yet read.
func behindName(path string) string {
	return "opshub_collector_file_behind_bytes{path=" + strconv.Quote(path) + "}"
}
