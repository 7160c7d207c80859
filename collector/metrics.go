package collector

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// collectorMetrics are the collector's self-metrics. Per-file series (bytes
// behind the end of each file) are built at each scrape from the open
// files, so that they disappear with their file.
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
	perFile      *fileSeries
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
		perFile: &fileSeries{behind: map[string]*atomic.Int64{}},
	}
	// Each format's parse errors start at 0, so a rate over them is 0
	// rather than no data.
	for _, f := range []format{formatCRI, formatDocker} {
		m.parseErrors.WithLabelValues(f.String())
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lines, m.bytes, m.openFiles, m.truncated, m.parseErrors, m.invalidUTF8, m.ckptWrites, m.ckptErrors, m.ckptLastSave, m.inflight, m.blocked, m.perFile} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("collector: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

var descBehind = prometheus.NewDesc("opshub_collector_file_behind_bytes",
	"Bytes of a log file not yet read by the collector.", []string{"path"}, nil)

// fileSeries shows the bytes behind of each open file: a
// prometheus.Collector whose constant metrics are built at each scrape.
type fileSeries struct {
	mu     sync.Mutex
	behind map[string]*atomic.Int64
}

// add shows the file at path with the bytes behind that v holds; a path
// already shown keeps its first value.
func (s *fileSeries) add(path string, v *atomic.Int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.behind[path] == nil {
		s.behind[path] = v
	}
}

// remove stops showing the file at path.
func (s *fileSeries) remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.behind, path)
}

func (s *fileSeries) Describe(ch chan<- *prometheus.Desc) { ch <- descBehind }

func (s *fileSeries) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, v := range s.behind {
		ch <- prometheus.MustNewConstMetric(descBehind, prometheus.GaugeValue, float64(v.Load()), path)
	}
}
