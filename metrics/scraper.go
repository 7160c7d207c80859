package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// DefaultInterval is how often the Scraper reads its source.
const DefaultInterval = 15 * time.Second

// ScraperOptions configure a Scraper.
type ScraperOptions struct {
	// Interval between scrapes; default DefaultInterval.
	Interval time.Duration
	Logger   *slog.Logger
	// Registerer receives the scraper's own metrics; may be nil.
	Registerer prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnSamples, when set, receives every scrape's samples (remote write
	// forwarders). It must not block.
	OnSamples func([]model.Sample)
	// Lines, when set, counts the collector's log lines per container; each
	// scrape turns them into the log-lines type.
	Lines *LineCounter
}

// Scraper reads a Source every interval, turns the readings into samples,
// stores them and shows the latest values on /metrics.
type Scraper struct {
	src      Source
	store    *Store
	expo     *Exposition
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	rater    *Rater
	onSample func([]model.Sample)
	lines    *LineCounter
	// lastScrape is when the previous scrape took the line counts.
	lastScrape time.Time

	duration prometheus.Histogram
	errors   prometheus.Counter
	series   prometheus.Gauge
	reg      prometheus.Registerer
	closed   chan struct{}
	closeMu  sync.Once
}

// NewScraper builds a Scraper; it starts nothing.
func NewScraper(src Source, store *Store, expo *Exposition, opts ScraperOptions) *Scraper {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Scraper{
		src: src, store: store, expo: expo,
		interval: opts.Interval,
		log:      opts.Logger.With("component", "metrics"),
		now:      opts.Now,
		rater:    NewRater(),
		onSample: opts.OnSamples,
		lines:    opts.Lines,
		reg:      opts.Registerer,
		closed:   make(chan struct{}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "opshub_metrics_scrape_duration_seconds",
			Help:    "Time to read container metrics from the source, per scrape.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "opshub_metrics_scrape_errors_total",
			Help: "Scrapes of container metrics that failed in whole or in part.",
		}),
		series: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "opshub_metrics_series",
			Help: "Container metric series held in memory.",
		}),
	}
}

// Interval returns the scrape interval.
func (s *Scraper) Interval() time.Duration { return s.interval }

// Run scrapes at once and then every interval until ctx ends or Close.
func (s *Scraper) Run(ctx context.Context) error {
	if s.reg != nil {
		for _, c := range []prometheus.Collector{s.duration, s.errors, s.series} {
			if err := s.reg.Register(c); err != nil {
				return fmt.Errorf("metrics: register self-metrics: %w", err)
			}
		}
	}
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.Scrape(ctx, s.now())
		select {
		case <-ctx.Done():
			return nil
		case <-s.closed:
			return nil
		case <-t.C:
		}
	}
}

// Close stops Run; it is idempotent.
func (s *Scraper) Close() error {
	s.closeMu.Do(func() { close(s.closed) })
	return nil
}

// Scrape reads the source once at now and records what it read.
func (s *Scraper) Scrape(ctx context.Context, now time.Time) {
	start := time.Now()
	readings, err := s.src.Read(ctx, now)
	s.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		s.errors.Inc()
		s.log.Warn("reading container metrics", "err", err)
	}
	samples, incs := s.rater.Convert(readings)
	s.store.Add(samples...)
	s.store.Prune(now)
	live := make(map[model.Ref]bool, len(readings))
	for _, r := range readings {
		live[r.Ref] = true
	}
	if s.lines != nil {
		ls, li := lineSamples(s.lines.take(), live, now, s.lastScrape)
		s.lastScrape = now
		s.store.Add(ls...)
		samples, incs = append(samples, ls...), append(incs, li...)
	}
	s.expo.Update(samples, incs)
	if s.onSample != nil && len(samples) > 0 {
		s.onSample(samples)
	}
	s.expo.Retain(live)
	s.series.Set(float64(s.store.Len()))
}
