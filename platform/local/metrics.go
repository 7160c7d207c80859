package local

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// metrics are the runtime's own metrics. Labels are bounded: projects and
// services come from the config, statuses and HTTP codes from small sets.
type metrics struct {
	restarts      *prometheus.CounterVec
	instances     *prometheus.GaugeVec
	proxyRequests *prometheus.CounterVec
	eventsDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_local_instance_restarts_total",
			Help: "Restarts of supervised instances.",
		}, []string{"project", "service"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_local_instances",
			Help: "Supervised instances by container status.",
		}, []string{"project", "service", "status"}),
		proxyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_local_proxy_requests_total",
			Help: "Requests answered by the front proxies, by HTTP status code.",
		}, []string{"project", "service", "code"}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_local_events_dropped_total",
			Help: "Instance events dropped because a subscriber fell behind.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.restarts, m.instances, m.proxyRequests, m.eventsDropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// statusChanged moves one instance from one status gauge to another; an
// empty status means "not counted" (before creation, after removal).
func (m *metrics) statusChanged(ref model.Ref, from, to model.Status) {
	if from != "" {
		m.instances.WithLabelValues(ref.Project, ref.Service, string(from)).Dec()
	}
	if to != "" {
		m.instances.WithLabelValues(ref.Project, ref.Service, string(to)).Inc()
	}
}

func (m *metrics) proxyRequest(ref model.Ref, code int) {
	m.proxyRequests.WithLabelValues(ref.Project, ref.Service, strconv.Itoa(code)).Inc()
}
