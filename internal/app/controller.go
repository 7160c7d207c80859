package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/alerting"
	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/reload"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/release/flow"
	"github.com/opshub/opshub/server"
	"github.com/opshub/opshub/store"
	"github.com/opshub/opshub/store/kubestate"
)

// ControllerLease is the Lease the controllers elect their leader on.
const ControllerLease = "opshub-controller"

// DefaultControllerNamespace is where the controller keeps its Lease and
// state when neither platform.namespace nor $POD_NAMESPACE says.
const DefaultControllerNamespace = "opshub"

// ControllerOptions are the parts of a controller run that do not come from
// the config file.
type ControllerOptions struct {
	Logger *slog.Logger
	// Listener, when set, is used for the API instead of listening on
	// cfg.Server.Listen (tests pass one on 127.0.0.1:0).
	Listener net.Listener
	// Identity names this candidate in the leader Lease; default
	// kubernetes.DefaultIdentity ($POD_NAME, else host name and pid).
	Identity string
	// MetricsInterval is how often the collectors' samples are pulled;
	// default 15s (tests shorten it).
	MetricsInterval time.Duration
	// AlertTick is how often time-based alert detectors run; default 5s.
	AlertTick time.Duration
	// ConfigPath and Reload work as in Options. The controller runs no
	// log sinks (the collectors do), so a reload checks the new file and
	// names the sections that need a restart.
	ConfigPath string
	Reload     <-chan struct{}
	// Started, when set, is called once every part has been started
	// (cmd uses it to give back the memory start-up alone needed).
	Started func()
}

// ControllerNamespace is where the controller keeps its Lease and state:
// platform.namespace, else $POD_NAMESPACE, else "opshub".
func ControllerNamespace(cfg *config.Config) string {
	if cfg.Platform.Namespace != "" {
		return cfg.Platform.Namespace
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return DefaultControllerNamespace
}

// RunController runs `opshub controller` until ctx ends: it watches the
// cluster, campaigns for the leader Lease, and while it leads runs
// alerting, the spend meter, the autoscaler and the full API over the state
// kept in the API server and the samples pulled from the collectors.
//
// A follower serves /healthz and /readyz (ready once it follows a known
// leader) and passes every other request to the leader's pod, or, when it
// cannot reach it, answers 503 naming the leader. A
// leader that loses its Lease stops every part and RunController returns
// kubernetes.ErrLeadershipLost, so that the process exits non-zero and
// starts again as a follower with fresh state.
func RunController(ctx context.Context, cfg *config.Config, opts ControllerOptions) error {
	if cfg.Platform.Kind != config.PlatformKubernetes {
		return fmt.Errorf("opshub controller runs on a cluster and needs platform.kind kubernetes (got %q); on a single machine use `opshub run`", cfg.Platform.Kind)
	}
	s, err := begin(cfg, opts.Logger)
	if err != nil {
		return err
	}
	log, reg := s.log, s.reg
	namespace := ControllerNamespace(cfg)
	identity := opts.Identity
	if identity == "" {
		identity = kubernetes.DefaultIdentity()
	}
	qps, burst := cfg.Platform.KubeAPIRate()
	client, err := kubernetes.NewClientWith(cfg.Platform.Kubeconfig, kubernetes.ClientOptions{QPS: qps, Burst: burst})
	if err != nil {
		return err
	}
	token, err := kubernetes.BearerToken(cfg.Platform.Kubeconfig)
	if err != nil {
		return err
	}
	plat, err := kubernetes.New(kubernetes.Options{Client: client, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	snapshots, err := flowSnapshots(cfg, client, plat)
	if err != nil {
		return err
	}
	watch, err := kubernetes.NewCollectorWatch(client, namespace, nil)
	if err != nil {
		return err
	}
	le := cfg.Platform.Election()
	elector, err := kubernetes.NewElector(kubernetes.LeaderOptions{
		Client: client, Namespace: namespace, Name: ControllerLease, Identity: identity,
		LeaseDuration: le.LeaseDuration.D(), RenewDeadline: le.RenewDeadline.D(), RetryPeriod: le.RetryPeriod.D(),
		Logger: log,
	})
	if err != nil {
		return err
	}
	// A follower's own metrics (process, platform) on /metrics; the
	// leader's API serves the same registry once it leads.
	own, err := server.New(server.Options{Tokens: Tokens(cfg), Services: plat, Gatherer: reg, Logger: log, Limits: serverLimits(cfg), Pprof: cfg.Server.Pprof})
	if err != nil {
		return err
	}
	front := &server.RoleHandler{Elector: elector, PlatformReady: plat.Ready, LeaderURL: leaderURL(plat, namespace, cfg.Server.Listen), Metrics: own.Handler()}
	registerLeader(reg, front.Leading)

	reloader := newReloader(cfg, opts.ConfigPath, nil, reg, log)
	if reloader != nil {
		reloader.SetGroups(followerGroups{})
	}
	log.Info("controller starting", "identity", identity, "namespace", namespace, "lease", ControllerLease)
	return s.runParts(ctx, command{
		listener: opts.Listener, setting: "server.listen", listen: cfg.Server.Listen,
		reloader: reloader, reloads: opts.Reload, started: opts.Started,
		endsWithAnyPart: true, // the controller is done when any of its parts is
		start: func(g *partGroup, ln net.Listener) {
			g.start("kubernetes platform", func(ctx context.Context) error { return plat.Run(ctx, 2) })
			g.start("collector watch", watch.Run)
			g.start("api server", func(ctx context.Context) error { return serveHTTP(ctx, ln, front, serverLimits(cfg), log) })
			g.start("controller", func(ctx context.Context) error {
				return elector.Run(ctx, func(ctx context.Context) error {
					return lead(ctx, leaderDeps{
						cfg: cfg, opts: opts, log: log, reg: reg, plat: plat, watch: watch, token: token,
						replica: kubestate.New(client, namespace, kubestate.DefaultName), front: front, reloader: reloader,
						groupObjects: kubernetes.NewGroupObjects(client),
						snapshots:    snapshots,
					})
				})
			})
		},
		closeAfter: func() { _ = plat.Close() },
	})
}

// controllerDeliveriesKept bounds the controller's delivery history: its
// whole state is copied into Secrets on every write, and 2,000 deliveries
// of crash events with their last lines are about 1 MiB compressed.
const controllerDeliveriesKept = 2000

// leaderDeps is what the leader's parts are built from.
type leaderDeps struct {
	cfg     *config.Config
	opts    ControllerOptions
	log     *slog.Logger
	reg     *prometheus.Registry
	plat    *kubernetes.Platform
	watch   *kubernetes.CollectorWatch
	token   func() (string, error)
	replica store.Replica
	front   *server.RoleHandler
	// reloader serves POST /api/v1/config/reload; nil without a file.
	reloader *reload.Reloader
	// groupObjects writes the groups' Secrets and ConfigMaps.
	groupObjects *kubernetes.GroupObjects
	// snapshots takes the flows' backup steps; nil when none has one.
	snapshots flow.Snapshots
}

// lead runs the leader's parts until ctx ends (the Lease is lost or the
// process stops) or one of them fails. The state is restored from the
// replica before any part that reads or writes it is built, so alerting
// starts from its predecessor's outbox, throttles and alert states: a
// notification committed to the outbox is delivered by exactly one leader
// or, when the old leader died between sending and recording it, sent again
// with the same idempotency key.
func lead(ctx context.Context, d leaderDeps) error {
	cfg, log := d.cfg, d.log
	// A Save that finds another controller's write means this one leads no
	// more, whatever its Lease says: it stops at once rather than deliver
	// what the new leader owns.
	ctx, fenced := context.WithCancelCause(ctx)
	defer fenced(nil)
	leading := ctx
	db, err := store.OpenReplicated(ctx, filepath.Join(cfg.DataDir, "controller-state.db"), d.replica,
		store.WithSaveObserver(func(s store.SaveInfo) {
			if errors.Is(s.Err, kubestate.ErrConflict) {
				fenced(fmt.Errorf("stepping down: %w", s.Err))
			}
		}))
	if err != nil {
		return fmt.Errorf("restore state: %w", err)
	}
	defer db.Close()
	log.Info("state restored; starting the leader's parts")

	interval := metricsInterval(d.opts.MetricsInterval)
	mstore := metrics.NewStore(metrics.DefaultRetention, interval)
	sampleSinks, onSamples, err := newSampleSinks(cfg, d.reg, log)
	if err != nil {
		return err
	}
	pull, err := newSamplePuller(d.watch, mstore, d.token, interval, onSamples, d.reg, log)
	if err != nil {
		return err
	}
	pull.services = d.plat
	logs := &collectorLogs{services: d.plat, collectors: d.watch, node: server.NodeClient{Token: d.token}}
	// The API answers as the leader only once alerting watches the
	// platform, so that whoever sees this controller lead knows that what
	// happens to instances from then on is noticed; crash loops already
	// under way are replayed to it (see takeover).
	watching := &takeover{platform: d.plat, events: d.plat, now: time.Now, subscribed: make(chan struct{})}
	alerts, err := newAlertingWithLogs(cfg, watching, collector.LastLines{Reader: logs}, metricWindows{mstore}, db, d.reg, log, controllerDeliveriesKept, d.plat.Tags)
	if err != nil {
		return err
	}
	publish := func(e model.Event) {
		log.Info("event", "event", e.Name, "status", e.Status, "project", e.Project, "service", e.Service, "summary", e.Summary)
		alerts.Publish(e)
	}
	// Releases: deploys and rollbacks patch the workloads' pod templates;
	// the history is in the replicated state, so a new leader follows the
	// rollouts its predecessor left in progress.
	rels, err := newReleases(cfg, d.plat, db, collector.LastLines{Reader: logs}, publish, d.reg, log)
	if err != nil {
		return err
	}
	// Groups: their Secrets and ConfigMaps in the namespaces of the
	// workloads they select, and envFrom in those workloads' pod
	// templates through releases; a reload applies them at once.
	// A follower may have started before the file changed and been
	// reloaded on the old leader: the groups are read from the file again,
	// so that a failover does not go back to older ones.
	groupsCfg := cfg
	if d.opts.ConfigPath != "" {
		if fresh, err := LoadConfig(d.opts.ConfigPath); err != nil {
			log.Warn("groups: the config file cannot be read again; applying the groups it had at start", "error", err)
		} else {
			groupsCfg = fresh
		}
	}
	groups := newKubeGroups(groupsCfg, d.plat, d.groupObjects, rels, log)
	if d.reloader != nil {
		d.reloader.SetGroups(groups)
		defer d.reloader.SetGroups(followerGroups{})
	}
	// Jobs and flows: a run of a job is a Job created from its CronJob's or
	// Job's template; runs and their history are in the replicated state,
	// so a new leader fails what its predecessor left running and runs
	// what it left queued.
	jobEngine, err := newKubeJobs(d.plat, db, publish, log)
	if err != nil {
		return err
	}
	flows, err := newFlows(cfg, flowDeps{commands: kubeCommands{p: d.plat, templates: jobTemplates(cfg)}, jobs: jobEngine, releases: rels, snapshots: d.snapshots}, db, publish, log)
	if err != nil {
		return err
	}
	flows.Recover()
	// Continuous deployment: its state (digests seen and deployed, pauses)
	// is in the replicated state, so a new leader goes on from there.
	cd, err := newContinuous(cfg, rels, flows, d.plat.DockerConfig, db, log)
	if err != nil {
		return err
	}
	usage := storeUsage{store: mstore, window: 2 * interval, now: time.Now}
	scaling, err := newAutoscaling(cfg, d.plat, usage, db, publish, d.reg, log)
	if err != nil {
		return err
	}
	meter, err := newSpendMeter(cfg, d.plat, usage, db, publish, d.reg, log)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Tokens:      Tokens(cfg),
		Services:    d.plat,
		Gatherer:    d.reg,
		Registerer:  d.reg,
		Logs:        logs,
		Metrics:     metricsReader{mstore},
		Spend:       meter,
		Autoscaling: scaling,
		Alerting:    alerts,
		Scaler:      d.plat,
		Releases:    rels,
		Jobs:        jobEngine,
		Flows:       flows,
		Continuous:  continuousAPI(cd),
		Autoscaled:  autoscaledByConfig(cfg),
		Reloader:    reloadAPI(d.reloader),
		Exec:        controllerExec(cfg, d.plat, log),
		UI:          true,
		Limits:      serverLimits(cfg),
		Pprof:       cfg.Server.Pprof,
		Logger:      log,
	})
	if err != nil {
		return err
	}

	g := newPartGroup(ctx)
	start := g.start
	start("collector samples", pull.Run)
	for _, s := range sampleSinks {
		start("metrics sinks", s.Run)
	}
	start("autoscaler", scaling.Run)
	start("spend meter", meter.Run)
	start("alerting", alerts.Run)
	start("releases", rels.Run)
	start("groups", groups.Run)
	start("jobs", jobEngine.Run)
	start("flows", flows.Run)
	if cd != nil {
		start("continuous deployment", cd.Run)
	}
	select {
	case <-watching.subscribed:
		d.front.Lead(srv.Handler())
		log.Info("leader's parts running; serving the API")
	case <-g.ctx.Done():
	}
	err = g.wait()
	// Followers' answers again before the Lease is released.
	d.front.Follow()
	if cause := context.Cause(leading); errors.Is(cause, kubestate.ErrConflict) {
		err = errors.Join(err, cause)
	}
	return err
}

// takeover is what alerting watches on a new leader: first a backoff event
// for every instance that is crash-looping now, then the platform's events.
// A crash loop that the previous leader noticed but had not committed when
// it died, or that began while no leader ran, is noticed this way; one
// that was committed is not notified again, because its throttle window
// came with the restored state. subscribed is closed once alerting watches.
type takeover struct {
	platform   server.ServiceReader
	events     alerting.Subscriber
	now        func() time.Time
	once       sync.Once
	subscribed chan struct{}
}

// Services lists the platform's services, for alerting to resolve the
// alerts of instances that went while no controller led.
func (s *takeover) Services(ctx context.Context) ([]model.Service, error) {
	return s.platform.Services(ctx)
}

func (s *takeover) Subscribe(ctx context.Context) <-chan model.InstanceEvent {
	in := s.events.Subscribe(ctx)
	out := make(chan model.InstanceEvent, 256)
	var replay []model.InstanceEvent
	if svcs, err := s.platform.Services(ctx); err == nil {
		now := s.now()
		for _, svc := range svcs {
			for _, inst := range svc.Instances {
				backoff, err := time.ParseDuration(inst.Backoff)
				if inst.Status != model.StatusCrashing || inst.Backoff == "" || err != nil {
					continue
				}
				replay = append(replay, model.InstanceEvent{
					Kind: model.InstanceBackoff, Time: now, Status: inst.Status, Restarts: inst.Restarts,
					Ref:     model.Ref{Project: svc.Project, Service: svc.Name, Instance: inst.Name, Container: inst.Container},
					Backoff: backoff, Reason: alerting.ReasonCrashLoopBackOff, Exit: inst.LastExit,
				})
			}
		}
	}
	go func() {
		defer close(out)
		for _, ev := range replay {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		for ev := range in { // the platform's channel closes when ctx ends
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	s.once.Do(func() { close(s.subscribed) })
	return out
}

// autoscaledByConfig is autoscaledBy over the config's policies, which
// newAutoscaling has checked already.
func autoscaledByConfig(cfg *config.Config) server.AutoscaledFunc {
	policies, _ := AutoscalingPolicies(cfg)
	return autoscaledBy(policies)
}

// autoscaledBy tells the scale endpoint which services a policy manages.
func autoscaledBy(policies map[model.Ref]autoscaler.Policy) server.AutoscaledFunc {
	return func(project, service string) (int, int, bool) {
		p, ok := policies[model.Ref{Project: project, Service: service}]
		return p.MinReplicas, p.MaxReplicas, ok
	}
}

// leaderURL finds the leader's API: the pod named by the leader's identity
// in the controller's namespace, on the port of server.listen (every
// replica runs with the same config).
func leaderURL(plat *kubernetes.Platform, namespace, listen string) func(string) (*url.URL, bool) {
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		return nil
	}
	return func(identity string) (*url.URL, bool) {
		ip, ok := plat.PodIP(namespace, identity)
		if !ok {
			return nil, false
		}
		return &url.URL{Scheme: "http", Host: net.JoinHostPort(ip, port)}, true
	}
}

// serveHTTP serves h on ln until ctx ends, then shuts down within 10s on a
// fresh context. It closes ln.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, limits server.Limits, log *slog.Logger) error {
	srv := server.NewHTTPServer(h, limits, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving API", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// followerGroups is a follower's part in a reload of groups: none. The
// leader applies groups to the cluster, and a replica reads them from the
// file again when it starts to lead, so a follower neither applies them
// nor names them as needing a restart.
type followerGroups struct{}

func (followerGroups) ApplyGroups(context.Context, *config.Config) ([]string, []error) {
	return nil, nil
}
