package probes

import (
	"strings"

	"github.com/opshub/opshub/model"
)

// Metric names, after blackbox_exporter's probe_success and
// probe_duration_seconds, per container and probe type. They hold the last
// run, as blackbox_exporter's do for the last scrape.
const (
	metricSuccess    = "opshub_probe_success"
	metricDuration   = "opshub_probe_duration_seconds"
	metricStatusCode = "opshub_probe_http_status_code"
)

// metricLabels renders the label set of one probe of one container.
func metricLabels(ref model.Ref, t Type) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, kv := range [][2]string{
		{"project", ref.Project}, {"service", ref.Service}, {"instance", ref.Instance},
		{"container", ref.Container}, {"probe_type", string(t)},
	} {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteByte('"')
		b.WriteString(labelEscaper.Replace(kv[1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// labelEscaper escapes a label value for the Prometheus text format.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// observe records a run in the container's series.
func (m *Manager) observe(labels string, o Outcome) {
	if m.metrics == nil {
		return
	}
	success := 0.0
	if o.Result.passed() == Success {
		success = 1
	}
	m.metrics.GetOrCreateGauge(metricSuccess+labels, nil).Set(success)
	m.metrics.GetOrCreateGauge(metricDuration+labels, nil).Set(o.Latency.Seconds())
	if o.StatusCode != 0 {
		m.metrics.GetOrCreateGauge(metricStatusCode+labels, nil).Set(float64(o.StatusCode))
	}
}

// removeSeries drops the series of one probe of a container that is gone.
func (m *Manager) removeSeries(labels string) {
	if m.metrics == nil {
		return
	}
	for _, name := range []string{metricSuccess, metricDuration, metricStatusCode} {
		m.metrics.UnregisterMetric(name + labels)
	}
}
