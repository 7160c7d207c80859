package alerting

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
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
	received *prometheus.CounterVec
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
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_alerting_events_received_total",
			Help: "Events that entered the alerting pipeline, by event name.",
		}, []string{"event"}),
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
	// Known label values start at 0, so that a rate over them is 0 rather
	// than no data before the first event.
	for _, o := range []string{outcomeRouted, outcomeUnrouted, outcomeSilenced, outcomeThrottled, outcomeNoAlert, outcomeError} {
		m.events.WithLabelValues(o)
	}
	for _, name := range model.EventNames {
		m.received.WithLabelValues(name)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.events, m.received, m.dropped, m.attempts, m.latency, m.disabled, m.lastLinesFailed} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("alerting: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// Delivery attempt results, the values of opshub_alerting_delivery_attempts_total's result label.
var attemptResults = []string{"ok", "retry", "failed", "gone"}

// integration starts an integration's series at 0 (its latency histogram
// too, so that the first delivery is an increase a rate sees).
func (m *pipelineMetrics) integration(name string) {
	for _, r := range attemptResults {
		m.attempts.WithLabelValues(name, r)
	}
	m.disabled.WithLabelValues(name)
	m.latency.WithLabelValues(name)
}

var outboxPendingDesc = prometheus.NewDesc("opshub_alerting_outbox_pending",
	"Deliveries waiting in the durable outbox for their (next) attempt, by integration.", []string{"integration"}, nil)

// outboxCollector counts the outbox's pending deliveries at each scrape.
type outboxCollector struct{ p *Pipeline }

func (c outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- outboxPendingDesc }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{}
	for name := range c.p.workers {
		counts[name] = 0
	}
	err := c.p.opts.Store.View(func(tx *store.Tx) error {
		return c.p.outbox.EachTx(tx, func(key, _ string) (bool, error) {
			if name, _, ok := strings.Cut(key, "\x00"); ok {
				if _, known := counts[name]; known {
					counts[name]++
				}
			}
			return true, nil
		})
	})
	if err != nil {
		// No series rather than a failed scrape of every other metric.
		c.p.log.Warn("cannot count the outbox for /metrics", "err", err)
		return
	}
	for name, n := range counts {
		ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(n), name)
	}
}
