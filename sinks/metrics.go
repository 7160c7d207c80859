package sinks

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a delivery, the values of the result label.
const (
	resultSent         = "sent"
	resultFailed       = "failed"
	resultRetried      = "retried"
	resultDeadLettered = "dead_lettered"
)

// metrics are the sinks' self-metrics. Labels are the configured sink names
// (bounded by the config) and the fixed results above.
type metrics struct {
	events       *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	bufferBytes  *prometheus.GaugeVec
	bufferEvents *prometheus.GaugeVec
	bufferMax    *prometheus.GaugeVec
	latency      *prometheus.HistogramVec
	blocked      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_sink_events_total",
			Help: "Log records by sink and result: sent (accepted by the destination), failed (in a failed attempt), retried (sent again), dead_lettered (refused for good).",
		}, []string{"sink", "result"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_sink_bytes_total",
			Help: "Bytes of log records (as buffered, a little less than their JSON) by sink and result, as opshub_sink_events_total.",
		}, []string{"sink", "result"}),
		bufferBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_sink_buffer_bytes",
			Help: "Bytes waiting in the sink's on-disk buffer.",
		}, []string{"sink"}),
		bufferEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_sink_buffer_events",
			Help: "Log records waiting in the sink's on-disk buffer.",
		}, []string{"sink"}),
		bufferMax: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_sink_buffer_capacity_bytes",
			Help: "The sink's buffer.maxBytes: when opshub_sink_buffer_bytes reaches it, the collector waits.",
		}, []string{"sink"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opshub_sink_delivery_latency_seconds",
			Help:    "Time from a batch's oldest record entering the sink's buffer to the destination accepting it.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"sink"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_sink_backpressure_total",
			Help: "Times a full sink buffer made the collector wait.",
		}, []string{"sink"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.events, m.bytes, m.bufferBytes, m.bufferEvents, m.bufferMax, m.latency, m.blocked} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register sink metrics: %w", err)
		}
	}
	return m, nil
}

// start shows a sink's counters at 0 for every result, so that rates over
// them are 0 rather than no data before the first failure.
func (m *metrics) start(name string) {
	for _, r := range []string{resultSent, resultFailed, resultRetried, resultDeadLettered} {
		m.events.WithLabelValues(name, r)
		m.bytes.WithLabelValues(name, r)
	}
	m.blocked.WithLabelValues(name)
	m.latency.WithLabelValues(name)
}
