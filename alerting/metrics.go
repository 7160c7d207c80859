package alerting

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of an event in the pipeline (the label of opshub_alerting_events_total).
const (
	outcomeRouted    = "routed"
	outcomeUnrouted  = "unrouted"
	outcomeSilenced  = "silenced"
	outcomeThrottled = "throttled"
	outcomeNoAlert   = "resolved_unknown"
	outcomeError     = "error"
)

type pipelineMetrics struct {
	events   *prometheus.CounterVec
	dropped  prometheus.Counter
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	disabled *prometheus.GaugeVec
	// lastLinesFailed counts crash events sent without their last lines
	// because the log reader failed or timed out.
	lastLinesFailed prometheus.Counter
}

// newPipelineMetrics registers the pipeline's metrics on reg (nil: kept
// unregistered). Integration names come from the config, so their number
// is bounded.
func newPipelineMetrics(reg prometheus.Registerer) (*pipelineMetrics, error) {
	m := &pipelineMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_alerting_events_total",
			Help: "Events that entered the alerting pipeline, by what became of them.",
		}, []string{"outcome"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_alerting_events_dropped_total",
			Help: "Events dropped because the pipeline's queue was full.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_alerting_delivery_attempts_total",
			Help: "Delivery attempts, by integration and result (ok, retry, failed, gone).",
		}, []string{"integration", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opshub_alerting_delivery_latency_seconds",
			Help:    "Time from an event to its successful delivery, by integration.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"integration"}),
		disabled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_alerting_integration_disabled",
			Help: "1 when an integration was disabled after persistent failure, else 0.",
		}, []string{"integration"}),
		lastLinesFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_alerting_last_lines_failures_total",
			Help: "Crash and OOM events sent without the container's last lines because reading them failed or timed out.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.events, m.dropped, m.attempts, m.latency, m.disabled, m.lastLinesFailed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("alerting: register metrics: %w", err)
			}
		}
	}
	return m, nil
}
