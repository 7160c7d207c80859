package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/internal/clock"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/probes"
)

var _ platform.Platform = (*Runtime)(nil)

// proxyShutdownLimit bounds how long in-flight proxied requests may take to
// finish when the runtime stops.
const proxyShutdownLimit = 5 * time.Second

// Options configure a Runtime.
type Options struct {
	// DataDir holds the runtime's state under DataDir/local and the pod logs
	// under DataDir/pods. Required.
	DataDir string
	// ProxyHost is the address the front proxies listen on; default 127.0.0.1.
	ProxyHost string
	// Logger receives the runtime's logs; default: discarded.
	Logger *slog.Logger
	// Registerer receives the runtime's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Clock is the time source for the times the runtime reports
	// (starts, exits, next restarts), restart back-off waits and probe
	// schedules; default: real time. Tests pass a fake one to drive a
	// crash loop without waiting minutes. The grace period before SIGKILL
	// and the polling of an instance's $PORT use real time whatever the
	// clock: they measure how real processes behave.
	Clock clock.Clock
	// ProbeMetrics receives the per-instance probe series
	// (opshub_probe_success, opshub_probe_duration_seconds), which go away
	// with their instance; nil: not kept.
	ProbeMetrics *probes.Metrics
}

// Runtime supervises workloads as process groups on this machine.
//
// Lifecycle: New validates and has no side effects; Run does everything and
// returns only after every process it started has been reaped and every
// goroutine it started has ended; Close asks a running Run to stop and waits
// for it. The platform.Platform methods may be called at any time: before
// Run services have no instances yet (Scale only sets the count Run will
// start), after Run they show the instances as they ended.
type Runtime struct {
	opts        Options
	log         *slog.Logger
	clock       clock.Clock
	dataDir     string
	podsDir     string
	stateDir    string
	procRoot    string      // /proc; tests may point it elsewhere
	cgroupPaths cgroupPaths // tests may point them at a fake tree
	metrics     *metrics
	events      *platform.Broadcaster

	mu       sync.RWMutex
	services []*service      // sorted by project, name
	ports    map[int]bool    // instance ports handed out
	running  bool            // between start-up and shutdown of Run: instances may be started
	runCtx   context.Context // Run's context, for instances started outside reconcile (RunJob)
	jobSeq   uint64          // counts job runs
	born     uint64          // counts instances created, for their order
	cg       *cgroups        // nil: limits not enforced
	cgReason string          // why cg is nil
	state    *stateFile
	prober   *probes.Manager // set when Run starts

	kick      chan struct{} // wakes Run to reconcile replicas
	ready     atomic.Bool
	started   atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
	runDone   chan struct{}
	wg        sync.WaitGroup // instance supervisors
}

// service is one workload with its instances.
type service struct {
	w Workload
	// tmpl is the run spec instances are driven to; instances of another
	// spec are replaced by the workload's strategy (see rollout.go).
	tmpl    template
	desired int
	// instances are sorted by index; stopped instances of a scale-down stay
	// listed (Terminating) until their process is gone.
	instances []*instance
	proxy     *proxy // nil without Port
	// changed is closed and replaced whenever an instance's readiness
	// changes or an instance goes away, for requests the proxy holds.
	changed chan struct{}
	// rolling is true from a template change until the rollout is done.
	rolling bool
}

func (s *service) ref() model.Ref { return s.w.ref() }

// New validates the workloads and prepares a runtime. It touches neither the
// disk nor any process; metrics are registered on opts.Registerer.
func New(opts Options, workloads []Workload) (*Runtime, error) {
	if opts.DataDir == "" {
		return nil, errors.New("local: data dir is required")
	}
	dataDir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("local: data dir %s: %w", opts.DataDir, err)
	}
	if opts.ProxyHost == "" {
		opts.ProxyHost = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	var errs []error
	services := make([]*service, 0, len(workloads))
	names := map[string]bool{}
	ports := map[int]string{}
	for _, w := range workloads {
		w = w.clone()
		if err := w.normalize(); err != nil {
			errs = append(errs, err)
			continue
		}
		key := w.Project + "/" + w.Name
		if names[key] {
			errs = append(errs, fmt.Errorf("workload %s: declared twice", key))
			continue
		}
		names[key] = true
		if w.Port != 0 {
			if other, ok := ports[w.Port]; ok {
				errs = append(errs, fmt.Errorf("workload %s: port %d is already the port of %s", key, w.Port, other))
				continue
			}
			ports[w.Port] = key
		}
		services = append(services, &service{w: w, tmpl: newTemplate(w.runSpec()), desired: w.Replicas, changed: make(chan struct{})})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("local: %w", errors.Join(errs...))
	}
	slices.SortFunc(services, func(a, b *service) int {
		return cmp.Or(cmp.Compare(a.w.Project, b.w.Project), cmp.Compare(a.w.Name, b.w.Name))
	})
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	r := &Runtime{
		opts:        opts,
		log:         opts.Logger.With("component", "local"),
		clock:       opts.Clock,
		dataDir:     dataDir,
		podsDir:     filepath.Join(dataDir, "pods"),
		stateDir:    filepath.Join(dataDir, "local"),
		procRoot:    "/proc",
		cgroupPaths: defaultCgroupPaths,
		metrics:     m,
		services:    services,
		ports:       map[int]bool{},
		kick:        make(chan struct{}, 1),
		closed:      make(chan struct{}),
		runDone:     make(chan struct{}),
	}
	r.events = platform.NewBroadcaster(platform.SubscriberBuffer, m.eventsDropped.Inc)
	for _, s := range services {
		if s.w.Port != 0 {
			s.proxy = newProxy(r, s)
		}
	}
	return r, nil
}

// LogRoot is the directory under which instances' logs are written, in the
// kubelet's layout: <project>_<instance>_<uid>/<container>/<restart>.log.
func (r *Runtime) LogRoot() string { return r.podsDir }

// Ready reports whether Run has finished start-up: the data directory is
// locked, processes left by a previous opshub are stopped and the proxies
// listen. It turns false again when Run shuts down.
func (r *Runtime) Ready() bool { return r.ready.Load() }

// Close asks a running Run to stop everything and waits until it returned.
// It is idempotent, and a no-op when Run was never called.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() { close(r.closed) })
	if r.started.Load() {
		<-r.runDone
	}
	return nil
}

// Run locks the data directory, stops what a previous opshub left running,
// starts the proxies and the instances, and supervises them until ctx ends or
// Close is called. Then it stops every instance gracefully and returns once
// all processes are reaped. Start-up failures (data directory in use, a proxy
// port taken) are returned at once.
func (r *Runtime) Run(ctx context.Context) (err error) {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("local: Run called more than once")
	}
	defer close(r.runDone)

	for _, dir := range []string{r.stateDir, r.podsDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("local: %w", err)
		}
	}
	lock, err := lockDataDir(r.stateDir)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	defer func() {
		if rerr := lock.release(); rerr != nil {
			r.log.Warn("release data dir lock", "error", rerr)
		}
	}()

	statePath := filepath.Join(r.stateDir, "state.json")
	prev, err := readState(statePath)
	if err != nil {
		// A damaged state file must not keep opshub from starting; the
		// processes it named can then not be found, which the log says.
		r.log.Error("cannot read the state of the previous run; its processes are not cleaned up", "error", err)
	}
	r.cleanOrphans(ctx, prev.Groups)
	state := newStateFile(statePath)
	if err := state.write(); err != nil {
		return fmt.Errorf("local: %w", err)
	}

	cg, reason := detectCgroups(r.cgroupPaths)
	if cg != nil {
		cg.removeStale()
	}
	r.mu.Lock()
	r.state, r.cg, r.cgReason = state, cg, reason
	limited := r.limitedServicesLocked()
	r.mu.Unlock()
	if cg == nil && len(limited) > 0 {
		r.log.Warn("resource limits are not enforced", "reason", reason, "services", limited)
	}

	if err := r.listenProxies(); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	var proxies sync.WaitGroup
	r.serveProxies(&proxies)

	// The probe manager starts with Run, so that instances started now get
	// the first-run jitter the kubelet gives probes after its own start.
	prober := probes.NewManager(probes.Options{Clock: r.clock, Logger: r.opts.Logger, Metrics: r.opts.ProbeMetrics})

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	r.prober = prober
	r.runCtx = runCtx
	r.running = ctx.Err() == nil // nothing is started when ctx ended during start-up
	r.reconcileLocked(runCtx)
	r.mu.Unlock()
	r.ready.Store(true)
	r.log.Info("local runtime started", "data_dir", r.dataDir, "services", len(r.services), "limits_enforced", cg != nil)

	for loop := true; loop; {
		select {
		case <-ctx.Done():
			loop = false
		case <-r.closed:
			loop = false
		case <-r.kick:
			r.mu.Lock()
			r.reconcileLocked(runCtx)
			r.mu.Unlock()
		}
	}

	r.log.Info("local runtime stopping")
	r.mu.Lock()
	r.running = false
	r.mu.Unlock()
	cancel() // every instance starts its graceful stop
	r.shutdownProxies()
	r.wg.Wait()
	proxies.Wait()
	r.ready.Store(false)
	if err := state.write(); err != nil {
		r.log.Warn("write state", "error", err)
	}
	r.log.Info("local runtime stopped")
	return nil
}

// limitedServicesLocked names the services that declare resource limits.
func (r *Runtime) limitedServicesLocked() []string {
	var out []string
	for _, s := range r.services {
		if s.w.CPUMilli > 0 || s.w.MemoryBytes > 0 {
			out = append(out, s.ref().String())
		}
	}
	return out
}

// reconcileLocked starts or stops instances until each service has as many
// active (not stopping) instances of its template as desired, replacing
// instances of other templates by the service's strategy.
func (r *Runtime) reconcileLocked(ctx context.Context) {
	if !r.running {
		return
	}
	for _, s := range r.services {
		r.reconcileServiceLocked(ctx, s)
	}
}

// Services lists every service with its instances, sorted by project, name
// and instance index.
func (r *Runtime) Services(ctx context.Context) ([]model.Service, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]model.Service, 0, len(r.services))
	for _, s := range r.services {
		out = append(out, r.snapshotLocked(s, false))
	}
	return out, nil
}

// Service returns one service, or an error wrapping platform.ErrNotFound.
// Unlike Services, it includes each probe's history of recent runs.
func (r *Runtime) Service(ctx context.Context, project, name string) (model.Service, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.serviceLocked(project, name)
	if s == nil {
		return model.Service{}, fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
	}
	return r.snapshotLocked(s, true), nil
}

// Subscribe streams instance events from now until ctx ends; a subscriber
// that falls more than 256 events behind loses the oldest ones.
func (r *Runtime) Subscribe(ctx context.Context) <-chan model.InstanceEvent {
	return r.events.Subscribe(ctx)
}

// Scale sets the desired number of instances of a service. It returns once
// the change is accepted; a running Run then starts or stops instances.
func (r *Runtime) Scale(ctx context.Context, project, name string, replicas int) error {
	if replicas < 0 {
		return fmt.Errorf("scale %s/%s: replicas %d is negative", project, name, replicas)
	}
	r.mu.Lock()
	s := r.serviceLocked(project, name)
	if s != nil {
		if s.desired != replicas {
			r.log.Info("scale", "project", project, "service", name, "from", s.desired, "to", replicas)
		}
		s.desired = replicas
	}
	r.mu.Unlock()
	if s == nil {
		return fmt.Errorf("scale %s/%s: %w", project, name, platform.ErrNotFound)
	}
	select {
	case r.kick <- struct{}{}:
	default: // a reconcile is already pending and will see the new count
	}
	return nil
}

func (r *Runtime) serviceLocked(project, name string) *service {
	for _, s := range r.services {
		if s.w.Project == project && s.w.Name == name {
			return s
		}
	}
	return nil
}

// snapshotLocked copies a service for callers; history adds the probes'
// run histories.
func (r *Runtime) snapshotLocked(s *service, history bool) model.Service {
	out := model.Service{
		Project:   s.w.Project,
		Name:      s.w.Name,
		Replicas:  s.desired,
		Port:      s.w.Port,
		Instances: make([]model.Instance, 0, len(s.instances)),
	}
	surge := surgeLocked(s)
	for _, in := range s.instances {
		snap := in.snapshotLocked(history)
		snap.Surge = surge[in]
		out.Instances = append(out.Instances, snap)
	}
	return out
}

// surgeLocked names the instances a rollout runs above the desired count,
// with the rule platform/kubernetes applies to pods: while live instances
// (not leaving) run more than one template, the newest ones beyond the
// desired count are surge, and the autoscaler leaves them out.
func surgeLocked(s *service) map[*instance]bool {
	var live []*instance
	hashes := map[string]bool{}
	for _, in := range s.instances {
		if !in.removing && in.job == nil {
			live = append(live, in)
			hashes[in.tmpl.hash] = true
		}
	}
	if len(hashes) < 2 || len(live) <= s.desired {
		return nil
	}
	slices.SortFunc(live, func(a, b *instance) int { return cmp.Compare(b.born, a.born) })
	out := map[*instance]bool{}
	for _, in := range live[:len(live)-s.desired] {
		out[in] = true
	}
	return out
}
