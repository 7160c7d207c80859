package probes

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// The series, after blackbox_exporter's probe_success and
// probe_duration_seconds, per container and probe type. They hold the last
// run, as blackbox_exporter's do for the last scrape.
var (
	probeLabels  = []string{"project", "service", "instance", "container", "probe_type"}
	descSuccess  = prometheus.NewDesc("opshub_probe_success", "Whether the last run of a container's probe passed (1) or failed (0).", probeLabels, nil)
	descDuration = prometheus.NewDesc("opshub_probe_duration_seconds", "How long the last run of a container's probe took.", probeLabels, nil)
	descStatus   = prometheus.NewDesc("opshub_probe_http_status_code", "HTTP status code of the last run of a container's HTTP probe.", probeLabels, nil)
)

// seriesKey names the series of one probe of one container.
type seriesKey struct {
	ref model.Ref
	typ Type
}

func (k seriesKey) labelValues() []string {
	return []string{k.ref.Project, k.ref.Service, k.ref.Instance, k.ref.Container, string(k.typ)}
}

// lastRun is what the series show of a probe's last run.
type lastRun struct {
	success, seconds float64
	statusCode       int // 0: no HTTP status (not an HTTP probe, or no answer)
}

// Metrics holds the last run of every probe of every live container and
// shows it on /metrics: a prometheus.Collector whose constant metrics are
// built at each scrape, so a container's series leave with the container.
type Metrics struct {
	mu   sync.Mutex
	last map[seriesKey]lastRun
}

// NewMetrics returns an empty set of probe series; register it with the
// registry /metrics gathers and pass it in Options.Metrics.
func NewMetrics() *Metrics { return &Metrics{last: map[seriesKey]lastRun{}} }

// Describe sends the three families' descriptions.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- descSuccess
	ch <- descDuration
	ch <- descStatus
}

// Collect sends the series of every probe that has run.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	last := make(map[seriesKey]lastRun, len(m.last))
	for k, r := range m.last {
		last[k] = r
	}
	m.mu.Unlock()
	for k, r := range last {
		values := k.labelValues()
		ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.GaugeValue, r.success, values...)
		ch <- prometheus.MustNewConstMetric(descDuration, prometheus.GaugeValue, r.seconds, values...)
		if r.statusCode != 0 {
			ch <- prometheus.MustNewConstMetric(descStatus, prometheus.GaugeValue, float64(r.statusCode), values...)
		}
	}
}

// observe records a run in the container's series.
func (m *Manager) observe(k seriesKey, o Outcome) {
	if m.metrics == nil {
		return
	}
	run := lastRun{seconds: o.Latency.Seconds(), statusCode: o.StatusCode}
	if o.Result.passed() == Success {
		run.success = 1
	}
	m.metrics.mu.Lock()
	defer m.metrics.mu.Unlock()
	if run.statusCode == 0 {
		// A run without an answer keeps the last status code shown.
		run.statusCode = m.metrics.last[k].statusCode
	}
	m.metrics.last[k] = run
}

// removeSeries drops the series of one probe of a container that is gone.
func (m *Manager) removeSeries(k seriesKey) {
	if m.metrics == nil {
		return
	}
	m.metrics.mu.Lock()
	defer m.metrics.mu.Unlock()
	delete(m.metrics.last, k)
}
