package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	serviceDesiredDesc = prometheus.NewDesc("opshub_service_desired_replicas",
		"Instances the service should run (its replicas, as scaled).", []string{"project", "service"}, nil)
	serviceReadyDesc = prometheus.NewDesc("opshub_service_ready_instances",
		"Instances of the service that are ready (passing readiness, taking traffic).", []string{"project", "service"}, nil)
)

// serviceCollector reports each service's desired and ready instances from
// the same reader that answers GET /api/v1/services, at each scrape.
type serviceCollector struct{ services ServiceReader }

func (c serviceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- serviceDesiredDesc
	ch <- serviceReadyDesc
}

func (c serviceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	svcs, err := c.services.Services(ctx)
	if err != nil {
		// No series rather than a failed scrape: the rest of /metrics
		// still counts, and the panels show the gap.
		return
	}
	for _, s := range svcs {
		ready := 0
		for _, in := range s.Instances {
			if in.Ready {
				ready++
			}
		}
		ch <- prometheus.MustNewConstMetric(serviceDesiredDesc, prometheus.GaugeValue, float64(s.Replicas), s.Project, s.Name)
		ch <- prometheus.MustNewConstMetric(serviceReadyDesc, prometheus.GaugeValue, float64(ready), s.Project, s.Name)
	}
}
