package release

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Rollout results, the values of the result label.
const (
	resultSucceeded  = "succeeded"
	resultFailed     = "failed"
	resultRolledBack = "rolled_back"
	resultSuperseded = "superseded"
)

// metrics are the release engine's self-metrics. Their names are what the
// releases dashboard queries: keep them.
type metrics struct {
	rollouts   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	rollbacks  *prometheus.CounterVec
	inProgress *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rollouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_release_rollouts_total",
			Help: "Rollouts that ended, by how: succeeded, failed, rolled_back or superseded.",
		}, []string{"project", "service", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opshub_release_rollout_duration_seconds",
			Help:    "Time from the start of a rollout to its success.",
			Buckets: []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200},
		}, []string{"project", "service"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_release_rollbacks_total",
			Help: "Rollbacks started, by trigger: manual (rollback command or API) or auto (a failed rollout).",
		}, []string{"project", "service", "trigger"}),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_release_in_progress",
			Help: "1 while a rollout of the service is in progress, else 0.",
		}, []string{"project", "service"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.rollouts, m.duration, m.rollbacks, m.inProgress} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("release: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// known creates a service's series at zero (the duration histogram's
// buckets too), so that rate() and increase() see the first rollout and the
// releases dashboard shows 0 rather than no data.
func (m *metrics) known(project, service string) {
	for _, r := range []string{resultSucceeded, resultFailed, resultRolledBack, resultSuperseded} {
		m.rollouts.WithLabelValues(project, service, r)
	}
	for _, t := range []string{"manual", "auto"} {
		m.rollbacks.WithLabelValues(project, service, t)
	}
	m.duration.WithLabelValues(project, service)
	m.inProgress.WithLabelValues(project, service)
}
