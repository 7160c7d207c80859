package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/metrics/procfs"
	"github.com/opshub/opshub/metrics/remotewrite"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/server"
)

// MetricSpecs maps the workloads' resources and volumes onto what the local
// metrics source measures instances against.
func MetricSpecs(cfg *config.Config) map[model.Ref]procfs.Spec {
	out := make(map[model.Ref]procfs.Spec, len(cfg.Workloads))
	for _, w := range cfg.Workloads {
		spec := procfs.Spec{CPU: float64(w.Resources.CPU) / 1000, Memory: int64(w.Resources.Memory)}
		for _, v := range w.Volumes {
			spec.Volumes = append(spec.Volumes, procfs.Volume{Name: v.Name, Path: v.Path, Capacity: int64(v.Capacity)})
		}
		out[model.Ref{Project: w.Project, Service: w.Name}] = spec
	}
	return out
}

// metricsReader answers the API's metric queries from the store.
type metricsReader struct{ store *metrics.Store }

func (m metricsReader) QueryMetrics(q server.MetricsQuery) []model.MetricSeries {
	series := m.store.Query(metrics.Query{
		Project: q.Project, Service: q.Service, Container: q.Container,
		Types: q.Types, From: q.From, To: q.To, Step: q.Step,
	})
	if q.Aggregate {
		return metrics.Aggregate(series)
	}
	return series
}

// metricsParts are the pieces of the local metrics pipeline.
type metricsParts struct {
	interval time.Duration
	store    *metrics.Store
	expo     *metrics.Exposition
	scraper  *metrics.Scraper
	// forwarders send samples to the prometheus-remote-write sinks.
	forwarders []*remotewrite.Forwarder
}

// newMetrics builds the local scrape loop over the runtime's instances.
func newMetrics(cfg *config.Config, lister procfs.Lister, opts Options, reg prometheus.Registerer, log *slog.Logger) (*metricsParts, error) {
	interval := opts.MetricsInterval
	if interval <= 0 {
		interval = metrics.DefaultInterval
	}
	store := metrics.NewStore(metrics.DefaultRetention, interval)
	expo := metrics.NewExposition()
	src := procfs.New(lister, procfs.Options{Specs: MetricSpecs(cfg), Logger: log})
	forwarders, onSamples, err := newForwarders(cfg, reg, log)
	if err != nil {
		return nil, err
	}
	return &metricsParts{
		interval: interval,
		store:    store,
		expo:     expo,
		scraper: metrics.NewScraper(src, store, expo, metrics.ScraperOptions{
			Interval: interval, Logger: log, Registerer: reg, OnSamples: onSamples,
		}),
		forwarders: forwarders,
	}, nil
}

// newForwarders builds a forwarder per prometheus-remote-write sink, and the
// function that hands each scrape's samples to all of them (nil when there
// are none).
func newForwarders(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) ([]*remotewrite.Forwarder, func([]model.Sample), error) {
	var forwarders []*remotewrite.Forwarder
	for _, s := range cfg.Sinks {
		if s.Type != remotewrite.Type {
			continue
		}
		rc, ok := s.Settings.(*remotewrite.Config)
		if !ok {
			return nil, nil, fmt.Errorf("sink %q: settings are %T, want *remotewrite.Config", s.Name, s.Settings)
		}
		w, err := remotewrite.NewWriter(s.Name, rc)
		if err != nil {
			return nil, nil, err
		}
		f, err := remotewrite.NewForwarder(w, remotewrite.ForwarderOptions{Logger: log, Registerer: reg})
		if err != nil {
			return nil, nil, err
		}
		forwarders = append(forwarders, f)
	}
	var onSamples func([]model.Sample)
	if len(forwarders) > 0 {
		onSamples = func(samples []model.Sample) {
			for _, f := range forwarders {
				f.Send(samples)
			}
		}
	}
	return forwarders, onSamples, nil
}
