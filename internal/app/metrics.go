package app

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugins"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/metrics/procfs"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/server"
	"github.com/opshub/opshub/sinks"
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
	// lines counts the collector's lines per container for the scraper.
	lines   *metrics.LineCounter
	store   *metrics.Store
	expo    *metrics.Exposition
	scraper *metrics.Scraper
	// sampleSinks take each scrape's samples (prometheus-remote-write).
	sampleSinks []sinks.SampleSink
}

// newMetrics builds the local scrape loop over the runtime's instances.
func newMetrics(cfg *config.Config, lister procfs.Lister, opts Options, reg prometheus.Registerer, log *slog.Logger) (*metricsParts, error) {
	interval := metricsInterval(opts.MetricsInterval)
	store := metrics.NewStore(metrics.DefaultRetention, interval)
	expo := metrics.NewExposition()
	if err := reg.Register(expo); err != nil {
		return nil, err
	}
	src := procfs.New(lister, procfs.Options{Specs: MetricSpecs(cfg), Logger: log})
	sampleSinks, onSamples, err := newSampleSinks(cfg, reg, log)
	if err != nil {
		return nil, err
	}
	lines := metrics.NewLineCounter()
	return &metricsParts{
		interval: interval,
		lines:    lines,
		store:    store,
		expo:     expo,
		scraper: metrics.NewScraper(src, store, expo, metrics.ScraperOptions{
			Interval: interval, Logger: log, Registerer: reg, OnSamples: onSamples, Lines: lines,
		}),
		sampleSinks: sampleSinks,
	}, nil
}

// newSampleSinks builds the sinks of metric samples, and the function that
// hands each scrape's samples to all of them (nil when there are none).
func newSampleSinks(cfg *config.Config, reg prometheus.Registerer, log *slog.Logger) ([]sinks.SampleSink, func([]model.Sample), error) {
	var out []sinks.SampleSink
	for _, s := range cfg.Sinks {
		p := plugins.Sinks()[s.Type]
		if p.Samples == nil {
			continue
		}
		ss, err := p.Samples(sinks.Spec{Name: s.Name, Type: s.Type, Settings: s.Settings, Logger: log},
			sinks.SampleOptions{Logger: log, Registerer: reg})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, ss)
	}
	var onSamples func([]model.Sample)
	if len(out) > 0 {
		onSamples = func(samples []model.Sample) {
			for _, s := range out {
				s.Send(samples)
			}
		}
	}
	return out, onSamples, nil
}

// registerLeader puts opshub_controller_leader on reg: 1 while this process
// runs the controller's parts (alerting, autoscaling, spend, the API), 0 on
// a follower. `opshub run` is its own leader.
func registerLeader(reg prometheus.Registerer, leading func() bool) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "opshub_controller_leader",
		Help: "1 while this process leads (runs alerting, autoscaling, spend and the API), 0 on a follower controller.",
	}, func() float64 {
		if leading() {
			return 1
		}
		return 0
	}))
}
