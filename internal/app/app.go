// Package app wires opshub's packages into the running product. It is the one
// place that knows every implementation: it maps the config onto the platform
// runtime, the API server and the metrics registry, runs them together and
// stops them together. The cobra commands in cmd/opshub call it; tests call it
// in-process with a listener on :0.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/buildinfo"
	"github.com/opshub/opshub/internal/plugins"
	"github.com/opshub/opshub/internal/reload"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/local"
	"github.com/opshub/opshub/probes"
	"github.com/opshub/opshub/server"
	"github.com/opshub/opshub/store"
)

// Options are the parts of a run that do not come from the config file.
type Options struct {
	Logger *slog.Logger
	// Listener, when set, is used for the API instead of listening on
	// cfg.Server.Listen (tests pass one on 127.0.0.1:0).
	Listener net.Listener

	// MetricsInterval is how often container metrics are read; default
	// 15s (tests shorten it).
	MetricsInterval time.Duration

	// ConfigPath is the file cfg was read from. With it, a value on Reload
	// (cmd sends one per SIGHUP) and POST /api/v1/config/reload re-read
	// the file and apply what can change live (see Reloader).
	ConfigPath string
	Reload     <-chan struct{}

	// JobRetryDelay is the first wait before a failed job attempt is
	// retried; default 10s (tests shorten it).
	JobRetryDelay time.Duration
	// FlowRetryDelay is the first wait before a failed flow step is
	// retried; default 1s (tests shorten it).
	FlowRetryDelay time.Duration
	// Started, when set, is called once every part has been started
	// (cmd uses it to give back the memory start-up alone needed).
	Started func()
}

// Run runs opshub on this machine until ctx ends: the local runtime with
// every workload, and the API server. It returns after every part has
// stopped; children get their grace period.
func Run(ctx context.Context, cfg *config.Config, opts Options) error {
	if cfg.Platform.Kind != "local" {
		return fmt.Errorf("opshub run runs on a single machine and needs platform.kind local (got %q); on Kubernetes run `opshub collector` and `opshub controller`", cfg.Platform.Kind)
	}
	s, err := begin(cfg, opts.Logger)
	if err != nil {
		return err
	}
	log, reg := s.log, s.reg
	for _, section := range InactiveSections(cfg) {
		log.Warn("config section accepted but not active yet", "section", section)
	}

	// Probe series come and go with their instances: built at each scrape.
	probeMetrics := probes.NewMetrics()
	if err := reg.Register(probeMetrics); err != nil {
		return err
	}
	rt, err := local.New(local.Options{
		DataDir:      cfg.DataDir,
		Logger:       log,
		Registerer:   reg,
		ProbeMetrics: probeMetrics,
	}, Workloads(cfg))
	if err != nil {
		return err
	}
	mp, err := newMetrics(cfg, rt, opts, reg, log)
	if err != nil {
		return err
	}

	// The state file is shared by every part that keeps durable state
	// (spend ledger, alert state, outbox, autoscaler windows): bbolt lets
	// one holder open it, so it is opened once, here.
	db, err := store.Open(filepath.Join(cfg.DataDir, "state.db"))
	if err != nil {
		return fmt.Errorf("open state file: %w", err)
	}
	defer db.Close()
	alerts, err := newAlerting(cfg, rt, rt.LogRoot(), metricWindows{mp.store}, db, reg, log)
	if err != nil {
		return err
	}
	// publish hands events (autoscaling, spend, sinks) to the alerting pipeline.
	publish := func(e model.Event) {
		log.Info("event", "event", e.Name, "status", e.Status, "project", e.Project, "service", e.Service, "summary", e.Summary)
		alerts.Publish(e)
	}
	usage := storeUsage{store: mp.store, window: 2 * mp.interval, now: time.Now}
	scaling, err := newAutoscaling(cfg, rt, usage, db, func(e model.Event) { publish(e) }, reg, log)
	if err != nil {
		return err
	}
	meter, err := newSpendMeter(cfg, rt, usage, db, func(e model.Event) { publish(e) }, reg, log)
	if err != nil {
		return err
	}
	jobEngine, err := newJobs(cfg, rt, db, publish, opts.JobRetryDelay, log)
	if err != nil {
		return err
	}
	// sinkRouter is the collector's Output: it takes log batches to every
	// configured sink.
	sinkRouter, err := newSinks(cfg, reg, func(e model.Event) { publish(e) }, log)
	if err != nil {
		return err
	}
	rels, err := newReleases(cfg, rt, db, collector.LastLines{Reader: crashLogReader(cfg, rt.LogRoot(), rt)}, publish, reg, log)
	if err != nil {
		return err
	}
	// The release that ran when opshub stopped wins over the config file;
	// it is handed to the runtime before it starts any instance.
	if err := rels.Restore(ctx, reload.ConfigRunSpecs(cfg)); err != nil {
		return err
	}
	logLines := collector.LastLines{Reader: crashLogReader(cfg, rt.LogRoot(), rt)}
	flows, err := newFlows(cfg, flowDeps{commands: localCommands{rt}, jobs: jobEngine, jobLines: logLines, releases: rels, volumes: rt, retryDelay: opts.FlowRetryDelay}, db, publish, log)
	if err != nil {
		return err
	}
	// Runs a killed opshub left running are failed before the API serves.
	flows.Recover()
	// On one machine only image triggers of flows watch registries:
	// release.continuous is refused by the config check (a workload runs
	// a command, not an image).
	images, err := newContinuous(cfg, rels, flows, nil, db, log)
	if err != nil {
		return err
	}
	reloader := newReloader(cfg, opts.ConfigPath, sinkRouter, reg, log)
	registerLeader(reg, func() bool { return true })
	if reloader != nil {
		reloader.SetReleases(rels)
	}
	// The collector tails the runtime's log files into the sinks; the log
	// API reads the same files.
	logs, logReader, err := newLogCollector(cfg, rt.LogRoot(), rt, countingOutput{next: sinkRouter, lines: mp.lines}, sinkRouter.Held, reg, log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Listen:      cfg.Server.Listen,
		Tokens:      Tokens(cfg),
		Limits:      serverLimits(cfg),
		Pprof:       cfg.Server.Pprof,
		Services:    rt,
		Ready:       localReady(rt.Ready, jobEngine, flows),
		Gatherer:    reg,
		Registerer:  reg,
		Logs:        logReader,
		Metrics:     metricsReader{mp.store},
		Spend:       meter,
		Autoscaling: scaling,
		Scaler:      rt,
		Autoscaled:  autoscaledByConfig(cfg),
		Releases:    rels,
		Alerting:    alerts,
		Sinks:       sinkRouter,
		Collector:   logs,
		Reloader:    reloadAPI(reloader),
		Exec:        execOptions(cfg, rt),
		UI:          true,
		Logger:      log,
		Jobs:        jobEngine,
		Flows:       flows,
		Continuous:  continuousAPI(images),
	})
	if err != nil {
		return err
	}
	return s.runParts(ctx, command{
		listener: opts.Listener, setting: "server.listen", listen: cfg.Server.Listen,
		reloader: reloader, reloads: opts.Reload, started: opts.Started,
		start: func(g *partGroup, ln net.Listener) {
			g.start("local runtime", rt.Run)
			g.start("metrics scraper", mp.scraper.Run)
			for _, s := range mp.sampleSinks {
				g.start("metrics sinks", s.Run)
			}
			g.start("autoscaler", scaling.Run)
			g.start("releases", rels.Run)
			g.start("spend meter", meter.Run)
			g.start("jobs", func(ctx context.Context) error {
				// Runs are instances of the runtime: start them once it runs.
				if !waitReady(ctx, rt.Ready) {
					return nil
				}
				return jobEngine.Run(ctx)
			})
			g.start("flows", func(ctx context.Context) error {
				// Steps run jobs and deploy services: start once the runtime runs.
				if !waitReady(ctx, rt.Ready) {
					return nil
				}
				return flows.Run(ctx)
			})
			if images != nil {
				g.start("image triggers", func(ctx context.Context) error {
					if !waitReady(ctx, rt.Ready) {
						return nil
					}
					return images.Run(ctx)
				})
			}
			g.start("alerting", alerts.Run)
			g.start("sinks", sinkRouter.Run)
			g.start("log collector", logs.Run)
			g.start("api server", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
		},
		closeAfter: func() { _ = rt.Close() },
	})
}

func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	info := buildinfo.Get()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "opshub_build_info",
		Help: "A metric with constant value 1, labelled with the version of the running opshub.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(info.Version, info.Revision, info.GoVersion).Set(1)
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		build,
	)
	return reg
}

// LoadConfig reads and checks the config file at path with the plugin
// types of this build: start-up, reload and `opshub check-config` all call
// it, so they accept and refuse exactly the same files.
func LoadConfig(path string) (*config.Config, error) {
	return config.Load(path, plugins.Set{})
}

// ParseConfig is LoadConfig for a config held in memory.
func ParseConfig(data []byte, filename string) (*config.Config, error) {
	return config.Parse(data, filename, plugins.Set{})
}
