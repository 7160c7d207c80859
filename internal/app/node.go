package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugins"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/metrics/kubelet"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/server"
)

// DefaultPodLogRoot is where the kubelet writes container logs.
const DefaultPodLogRoot = "/var/log/pods"

// CollectorOptions are the parts of a collector run that do not come from
// the config file.
type CollectorOptions struct {
	Logger *slog.Logger
	// Listener, when set, serves the node API instead of listening on
	// collector.listen (tests pass one on 127.0.0.1:0).
	Listener net.Listener
	// MetricsInterval is how often the kubelet is read; default 15s.
	MetricsInterval time.Duration
	// Getenv reads the downward API's variables (POD_NAMESPACE, POD_NAME,
	// POD_IP, NODE_IP); default os.Getenv. Tests pass their own.
	Getenv func(string) string
	// WrapTransport, when set, wraps the transport of every request to the
	// API server (the end-to-end tests count them).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// ConfigPath and Reload work as in Options: each value on Reload (and
	// POST /api/v1/config/reload) re-reads the file and applies the sinks.
	ConfigPath string
	Reload     <-chan struct{}
	// Started, when set, is called once every part has been started
	// (cmd uses it to give back the memory start-up alone needed).
	Started func()
}

// nodeSettings are the values a collector derives from the config and the
// downward API before it starts anything.
type nodeSettings struct {
	node, namespace, holder string
	roots                   []string
	advertise               string
	kubelet                 kubelet.Options
	identities              []string
}

// settings checks what the collector needs and reports every problem at
// once, naming the key or variable to set.
func collectorSettings(cfg *config.Config, getenv func(string) string) (nodeSettings, error) {
	var errs []error
	if cfg.Platform.Kind != config.PlatformKubernetes {
		return nodeSettings{}, fmt.Errorf("opshub collector is the node agent of a Kubernetes cluster and needs platform.kind kubernetes (got %q); on a single machine run `opshub run`", cfg.Platform.Kind)
	}
	s := nodeSettings{node: cfg.Platform.NodeName, roots: cfg.Collector.Paths, holder: getenv("POD_NAME")}
	if s.node == "" {
		errs = append(errs, errors.New("platform.nodeName is empty: set it to ${NODE_NAME}, with NODE_NAME from the downward API (fieldRef spec.nodeName)"))
	}
	if len(s.roots) == 0 {
		s.roots = []string{DefaultPodLogRoot}
	}
	s.namespace = cfg.Platform.Namespace
	if s.namespace == "" {
		s.namespace = getenv("POD_NAMESPACE")
	}
	if s.namespace == "" {
		s.namespace = "opshub"
	}
	_, port, err := net.SplitHostPort(cfg.Collector.NodeListen())
	if err != nil {
		errs = append(errs, fmt.Errorf("collector.listen %q: %w", cfg.Collector.NodeListen(), err))
	}
	s.advertise = cfg.Collector.Advertise
	if s.advertise == "" {
		if ip := getenv("POD_IP"); ip != "" {
			s.advertise = "http://" + net.JoinHostPort(ip, port)
		} else {
			errs = append(errs, errors.New("collector.advertise is empty and so is $POD_IP: set POD_IP from the downward API (fieldRef status.podIP) or collector.advertise"))
		}
	}
	k := cfg.Collector.Kubelet
	s.kubelet = kubelet.Options{URL: k.URL, CAFile: k.CAFile, InsecureSkipVerify: k.InsecureSkipVerify, TokenFile: k.TokenFile}
	if s.kubelet.URL == "" {
		if ip := getenv("NODE_IP"); ip != "" {
			s.kubelet.URL = "https://" + net.JoinHostPort(ip, "10250")
		} else {
			errs = append(errs, errors.New("collector.kubelet.url is empty and so is $NODE_IP: set NODE_IP from the downward API (fieldRef status.hostIP) or collector.kubelet.url"))
		}
	}
	if s.kubelet.CAFile == "" && !s.kubelet.InsecureSkipVerify {
		s.kubelet.CAFile = kubelet.DefaultCAFile
	}
	if s.kubelet.TokenFile == "" {
		s.kubelet.TokenFile = kubelet.DefaultTokenFile
	}
	s.identities = cfg.Platform.ControllerIdentities
	if len(s.identities) == 0 {
		s.identities = []string{kubernetes.ControllerIdentity(s.namespace)}
	}
	return s, errors.Join(errs...)
}

// RunCollector runs the node agent until ctx ends: it watches the node's
// pods, tails their log files into the sinks, reads the kubelet's metrics
// every interval, serves the node API on collector.listen and keeps the
// collector's Lease for the controller. It returns after every part has
// stopped.
func RunCollector(ctx context.Context, cfg *config.Config, opts CollectorOptions) error {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	set, err := collectorSettings(cfg, getenv)
	if err != nil {
		return err
	}
	s, err := begin(cfg, opts.Logger)
	if err != nil {
		return err
	}
	log, reg := s.log.With("node", set.node), s.reg
	client, err := kubernetes.NewClientWith(cfg.Platform.Kubeconfig, kubernetes.ClientOptions{WrapTransport: opts.WrapTransport})
	if err != nil {
		return err
	}
	pods, err := kubernetes.NewNodePods(kubernetes.NodePodsOptions{
		Client: client, Node: set.node, Logger: log,
		Draining: func(m kubernetes.PodMeta) bool { return podLogsPresent(set.roots, m) },
	})
	if err != nil {
		return err
	}

	// A collector has no alerting of its own: sink events are logged, and
	// the sinks' state is on its /metrics and /api/v1/sinks.
	sinkRouter, err := newSinks(cfg, reg, func(e model.Event) {
		log.Warn("event", "event", e.Name, "status", e.Status, "summary", e.Summary)
	}, log)
	if err != nil {
		return err
	}
	lines := metrics.NewLineCounter()
	logs, logReader, err := buildLogCollector(cfg, set.roots, podResolver{pods: pods, node: set.node}, countingOutput{next: sinkRouter, lines: lines}, sinkRouter.Held, reg, log)
	if err != nil {
		return err
	}

	interval := metricsInterval(opts.MetricsInterval)
	src, err := kubelet.New(set.kubelet)
	if err != nil {
		return fmt.Errorf("collector.kubelet: %w", err)
	}
	store := metrics.NewStore(metrics.DefaultRetention, interval)
	expo := metrics.NewExposition()
	if err := reg.Register(expo); err != nil {
		return err
	}
	samples := newSampleLog(set.node, metrics.DefaultRetention, maxHeldSamples, time.Now)
	scraper := metrics.NewScraper(nodeSource{src: src, pods: pods}, store, expo, metrics.ScraperOptions{
		Interval: interval, Logger: log, Registerer: reg, OnSamples: samples.add, Lines: lines,
	})

	reviewer, err := kubernetes.NewTokenReviewer(kubernetes.TokenReviewerOptions{Client: client, Allowed: set.identities})
	if err != nil {
		return err
	}
	reloader := newReloader(cfg, opts.ConfigPath, sinkRouter, reg, log)
	srv, err := server.New(server.Options{
		Reloader:      reloadAPI(reloader),
		Listen:        cfg.Collector.NodeListen(),
		Services:      nodeServices{},
		Ready:         func() (bool, string) { return pods.Ready(), "the node's pods are not listed yet" },
		Gatherer:      reg,
		Registerer:    reg,
		Logs:          logReader,
		Metrics:       metricsReader{store},
		Sinks:         sinkRouter,
		Collector:     logs,
		NodeSamples:   samples,
		TokenReviewer: reviewer,
		Limits:        serverLimits(cfg),
		Pprof:         cfg.Server.Pprof,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	lease, err := kubernetes.NewRegistration(kubernetes.RegistrationOptions{
		Client: client, Namespace: set.namespace, Node: set.node, URL: set.advertise, Holder: set.holder, Logger: log,
	})
	if err != nil {
		return err
	}

	log.Info("collector starting", "roots", set.roots, "kubelet", set.kubelet.URL, "advertise", set.advertise, "lease_namespace", set.namespace)
	for _, s := range cfg.Sinks {
		if plugins.IsSampleSink(s.Type) {
			log.Info("sinks of metric samples are sent by the controller, which has every node's samples; this collector skips it", "sink", s.Name, "type", s.Type)
		}
	}

	return s.runParts(ctx, command{
		listener: opts.Listener, setting: "collector.listen", listen: cfg.Collector.NodeListen(),
		reloader: reloader, reloads: opts.Reload, started: opts.Started,
		start: func(g *partGroup, ln net.Listener) {
			g.start("api server", func(ctx context.Context) error { return srv.Serve(ctx, ln) })
			g.start("sinks", sinkRouter.Run)
			g.start("pod watch", pods.Run)
			// Enrichment needs the node's pods: tailing, metrics and the
			// Lease (which tells the controller the collector is there)
			// wait for the first list, so that no line leaves without its
			// service.
			g.start("after pod list", func(ctx context.Context) error {
				select {
				case <-pods.Synced():
				case <-ctx.Done():
					return nil
				}
				g.start("log collector", logs.Run)
				g.start("metrics scraper", scraper.Run)
				g.start("registration", lease.Run)
				return nil
			})
		},
	})
}
