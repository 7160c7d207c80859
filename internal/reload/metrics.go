package reload

import "github.com/prometheus/client_golang/prometheus"

// metrics count reloads by result and tell whether the last one applied,
// as Prometheus' own prometheus_config_last_reload_successful.
type metrics struct {
	reloads    *prometheus.CounterVec
	successful prometheus.Gauge
	lastGood   prometheus.Gauge
}

func newMetrics() metrics {
	m := metrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_config_reloads_total",
			Help: "Config reloads (SIGHUP or POST /api/v1/config/reload) by result: success (applied) or failure (refused, the running config kept).",
		}, []string{"result"}),
		successful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opshub_config_last_reload_successful",
			Help: "1 when the last config reload applied (or none was tried), 0 when it was refused.",
		}),
		lastGood: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opshub_config_last_reload_success_timestamp_seconds",
			Help: "When the config was last loaded with success: at start, then at each applied reload.",
		}),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.successful.Set(1)
	m.lastGood.SetToCurrentTime()
	return m
}

func (m metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.reloads, m.successful, m.lastGood} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m metrics) result(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.successful.Set(1)
		m.lastGood.SetToCurrentTime()
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
	m.successful.Set(0)
}
