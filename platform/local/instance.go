package local

import (
	"github.com/opshub/opshub/internal/vars"

	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/local/crilog"
	"github.com/opshub/opshub/probes"
)

const (
	// recentExitsKept bounds Instance.RecentExits.
	recentExitsKept = 10
	// portPollInterval is how often a Starting instance's $PORT is tried.
	portPollInterval = 200 * time.Millisecond
)

// Exit reasons of runs stopped because a probe failed, in the kubelet's
// vocabulary.
const (
	ReasonLivenessProbeFailed = "LivenessProbeFailed"
	ReasonStartupProbeFailed  = "StartupProbeFailed"
)

// probeKill asks a run to stop because its liveness or startup probe failed.
type probeKill struct {
	reason  string // ReasonLivenessProbeFailed or ReasonStartupProbeFailed
	message string // the kubelet's "Liveness probe failed: …"
}

// instance is one replica of a service: a pod with one container. Its
// mutable fields are guarded by Runtime.mu; only its supervisor goroutine
// changes them, apart from removing (set by reconcile).
type instance struct {
	svc    *service
	tmpl   template // the run spec this instance runs
	born   uint64   // creation order within the runtime
	index  int
	name   string // <service>-<hash4>-<index>
	uid    string
	port   int
	cancel context.CancelFunc // stops the instance

	status      model.Status
	ready       bool
	restarts    int
	lastExit    *model.Exit
	recentExits []model.Exit // newest first
	startedAt   time.Time
	nextRestart time.Time
	backoff     time.Duration
	pid         int
	limits      *model.LimitStatus
	removing    bool // scaled down or replaced: out of the proxy, removed once stopped
	readySince  time.Time
	// inflight counts the proxied requests the instance is serving; a
	// removed instance is stopped once it drops to zero (drain).
	inflight atomic.Int64

	// job is set for a job run's instance (RunJob): it runs its process
	// once, is not counted against the desired replicas, and reports how
	// it ended.
	job *jobRun

	// probes runs the workload's probes for the instance's whole life; nil
	// without probes.
	probes *probes.Container
	// kill carries a probe's verdict that the current run must stop; it is
	// drained when a run starts.
	kill     chan probeKill
	run      int64 // counts runs: the id of the current or last one
	portOpen bool  // the current run's $PORT accepted a connection
	// current is what exec needs of the current run; nil between runs.
	current *execContext
}

func (in *instance) ref() model.Ref {
	return model.Ref{Project: in.svc.w.Project, Service: in.svc.w.Name, Instance: in.name, Container: in.svc.w.Name}
}

// logDir is where the container's logs go, as the kubelet lays them out:
// <root>/<namespace>_<pod>_<uid>/<container>.
func (r *Runtime) logDir(in *instance) string {
	return filepath.Join(r.podsDir, in.svc.w.Project+"_"+in.name+"_"+in.uid, in.svc.w.Name)
}

// newUID returns a random (version 4) UUID, like a pod's uid.
func newUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// freePortLocked finds a TCP port nobody listens on and no other instance
// was given. The instance keeps it across restarts.
func (r *Runtime) freePortLocked() (int, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("find a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !r.ports[port] {
			r.ports[port] = true
			return port, nil
		}
	}
	return 0, errors.New("find a free port: every port offered is taken by an instance")
}

// newInstanceLocked adds an instance at the lowest free index.
func (r *Runtime) newInstanceLocked(s *service) (*instance, error) {
	index := 0
	for _, in := range s.instances {
		if in.index == index {
			index++
		}
	}
	uid, err := newUID()
	if err != nil {
		return nil, fmt.Errorf("uid: %w", err)
	}
	port, err := r.freePortLocked()
	if err != nil {
		return nil, err
	}
	r.born++
	in := &instance{
		born:   r.born,
		svc:    s,
		tmpl:   s.tmpl,
		index:  index,
		name:   fmt.Sprintf("%s-%s-%d", s.w.Name, s.tmpl.hash, index),
		uid:    uid,
		port:   port,
		status: model.StatusStaging,
		limits: r.limitsLocked(s.w),
		kill:   make(chan probeKill, 1),
	}
	if !s.w.Probes.Empty() {
		c, err := r.prober.NewContainer(probes.ContainerConfig{
			Ref:      in.ref(),
			Probes:   s.w.Probes,
			OnChange: func(ch probes.Change) { r.probeChanged(in, ch) },
		})
		if err != nil {
			delete(r.ports, port)
			return nil, err
		}
		in.probes = c
	}
	pos := len(s.instances)
	for i, other := range s.instances {
		if other.index > index {
			pos = i
			break
		}
	}
	s.instances = append(s.instances[:pos], append([]*instance{in}, s.instances[pos:]...)...)
	r.metrics.statusChanged(s.ref(), "", in.status)
	return in, nil
}

// limitsLocked describes a workload's limits and whether they are enforced;
// nil when it declares none.
func (r *Runtime) limitsLocked(w Workload) *model.LimitStatus {
	if w.CPUMilli == 0 && w.MemoryBytes == 0 {
		return nil
	}
	l := &model.LimitStatus{Enforced: r.cg != nil, Reason: r.cgReason}
	if w.CPUMilli > 0 {
		l.CPU = strconv.FormatInt(w.CPUMilli, 10) + "m"
	}
	if w.MemoryBytes > 0 {
		l.Memory = formatBytes(w.MemoryBytes)
	}
	return l
}

// formatBytes renders a size the way the config accepts it (256Mi).
func formatBytes(n int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// startLocked starts the instance's supervisor.
func (r *Runtime) startLocked(ctx context.Context, in *instance) {
	ctx, in.cancel = context.WithCancel(ctx)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.supervise(ctx, in)
		r.forget(in)
	}()
	if in.probes != nil {
		// The probes live as long as the instance, across its runs, as the
		// kubelet's probe workers live as long as the pod.
		r.wg.Go(func() { in.probes.Run(ctx) })
	}
}

// forget removes a scaled-down instance once its supervisor has finished.
func (r *Runtime) forget(in *instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !in.removing {
		return // shutdown: the instance stays listed as it ended
	}
	s := in.svc
	for i, other := range s.instances {
		if other == in {
			s.instances = append(s.instances[:i], s.instances[i+1:]...)
			break
		}
	}
	delete(r.ports, in.port)
	r.metrics.statusChanged(s.ref(), in.status, "")
	r.changedLocked(s)
}

// supervise runs the instance until ctx ends: it starts the process, records
// each exit, and restarts it as the restart policy and the back-off say.
func (r *Runtime) supervise(ctx context.Context, in *instance) {
	w := &in.svc.w
	bo := newRestartBackoff()
	for {
		exit, started := r.runOnce(ctx, in)
		if ctx.Err() != nil {
			r.mu.Lock()
			r.recordExitLocked(in, exit, started)
			r.setStatusLocked(in, model.StatusTerminated)
			r.emitLocked(in, model.InstanceStopped, withExit(exit, started))
			r.mu.Unlock()
			in.job.ended(exit, started)
			return
		}
		restart := shouldRestart(w.RestartPolicy, exit)
		if exit.Reason == ReasonLivenessProbeFailed || exit.Reason == ReasonStartupProbeFailed {
			// The kubelet restarts a container its probe killed unless the
			// policy is Never, whatever the exit code.
			restart = w.RestartPolicy != RestartNever
		}
		if in.job != nil {
			restart = false // a job's retries are new instances (RunJob's caller)
		}
		delay := bo.Delay(exit.Time)

		r.mu.Lock()
		r.recordExitLocked(in, exit, true)
		switch {
		case !restart && exit.Code == 0:
			r.setStatusLocked(in, model.StatusTerminated)
		case !restart:
			r.setStatusLocked(in, model.StatusFailed)
		case delay > 0:
			r.setStatusLocked(in, model.StatusCrashing)
			in.nextRestart, in.backoff = exit.Time.Add(delay), delay
		default:
			r.setStatusLocked(in, model.StatusStarting) // restarted at once
		}
		r.emitLocked(in, model.InstanceExited, &exit)
		if exit.OOMKilled {
			r.emitLocked(in, model.InstanceOOMKilled, &exit)
		}
		if restart && delay > 0 {
			r.emitLocked(in, model.InstanceBackoff, nil)
		}
		r.mu.Unlock()
		r.log.Info("instance exited", "project", w.Project, "instance", in.name,
			"code", exit.Code, "signal", exit.Signal, "reason", exit.Reason, "restart", restart, "backoff", delay.String())

		if !restart {
			in.job.ended(exit, true)
			<-ctx.Done() // stays listed as Terminated or Failed until stopped
			return
		}
		if wait := exit.Time.Add(delay).Sub(r.clock.Now()); delay > 0 && wait > 0 {
			select {
			case <-r.clock.After(wait):
			case <-ctx.Done():
				r.mu.Lock()
				in.nextRestart, in.backoff = time.Time{}, 0
				r.setStatusLocked(in, model.StatusTerminated)
				r.emitLocked(in, model.InstanceStopped, nil)
				r.mu.Unlock()
				return
			}
		}
		bo = bo.Restarted(exit.Time, r.clock.Now())
		r.mu.Lock()
		in.restarts++
		in.nextRestart, in.backoff = time.Time{}, 0
		r.setStatusLocked(in, model.StatusStarting) // the fork follows at once
		r.metrics.restarts.WithLabelValues(w.Project, w.Name).Inc()
		r.emitLocked(in, model.InstanceRestarted, &exit)
		r.mu.Unlock()
	}
}

// withExit returns &exit when a run happened, for events.
func withExit(exit model.Exit, ran bool) *model.Exit {
	if !ran {
		return nil
	}
	return &exit
}

// runOnce starts one run and returns how it ended, once its process group is
// gone and its output is written. When ctx ends during the run the instance
// is stopped gracefully. started is false when ctx ended before a process was
// started; a process that cannot be started at all ends as a StartError.
func (r *Runtime) runOnce(ctx context.Context, in *instance) (exit model.Exit, started bool) {
	if ctx.Err() != nil {
		return model.Exit{}, false
	}
	w := &in.svc.w
	r.mu.RLock()
	restart := in.restarts
	cg := r.cg
	r.mu.RUnlock()
	log := r.log.With("project", w.Project, "instance", in.name, "restart", restart)

	spec, err := r.processSpec(in)
	if err != nil {
		log.Warn("instance cannot start", "error", err)
		return startError(r.clock.Now()), true
	}
	logs, err := crilog.Open(r.logDir(in), restart, crilog.Options{
		OnError: func(err error) { log.Warn("container log", "error", err) },
	})
	if err != nil {
		log.Warn("instance cannot start", "error", fmt.Errorf("instance %s: open log: %w", in.name, err))
		return startError(r.clock.Now()), true
	}
	defer func() {
		if err := logs.Close(); err != nil {
			log.Warn("close container log", "error", err)
		}
	}()

	spec.onLogError = func(err error) { log.Warn("container log write failed; output is being dropped", "error", err) }
	var group *runCgroup
	if cg != nil {
		group, err = cg.create(in.uid+"-"+strconv.Itoa(restart), w.CPUMilli, w.MemoryBytes)
		if err != nil {
			r.limitsNotEnforced(in, err)
		} else {
			spec.cgroupFD = int(group.fd.Fd())
			spec.onLeaderExit = group.kill
		}
	}
	proc, err := startProcess(spec, logs, r.clock.Now)
	if err != nil && group != nil {
		// Starting inside a cgroup needs clone3 (Linux 5.7); run unlimited
		// rather than not at all.
		group.remove()
		group = nil
		r.limitsNotEnforced(in, fmt.Errorf("start in cgroup: %w", err))
		spec.cgroupFD, spec.onLeaderExit = -1, nil
		proc, err = startProcess(spec, logs, r.clock.Now)
	}
	if err != nil {
		log.Warn("instance cannot start", "error", fmt.Errorf("instance %s: start: %w", in.name, err))
		return startError(r.clock.Now()), true
	}
	if group != nil {
		defer func() {
			if err := group.remove(); err != nil {
				log.Warn("remove cgroup", "error", err)
			}
		}()
	}
	startedAt := r.clock.Now()
	if err := r.state.put(groupRecord{
		Project: w.Project, Service: w.Name, Instance: in.name, UID: in.uid,
		PID: proc.pid, PGID: proc.pid, StartTime: proc.startTime, Started: startedAt,
	}); err != nil {
		log.Warn("record process group", "error", err)
	}
	defer func() {
		if err := r.state.remove(in.uid); err != nil {
			log.Warn("record process group", "error", err)
		}
	}()

	r.mu.Lock()
	in.run++
	in.pid, in.startedAt, in.portOpen = proc.pid, startedAt, false
	in.current = newExecContext(spec, group, proc.done)
	select {
	case <-in.kill: // a verdict about an earlier run
	default:
	}
	r.setStatusLocked(in, model.StatusStarting)
	if in.probes != nil {
		in.probes.RunStarted(probes.Run{
			ID:        in.run,
			StartedAt: startedAt,
			Target:    probes.Target{Port: in.port, Env: spec.env, Dir: spec.dir},
		})
	}
	r.refreshStatusLocked(in)
	r.emitLocked(in, model.InstanceStarted, nil)
	r.refreshReadyLocked(in)
	r.mu.Unlock()
	log.Info("instance started", "pid", proc.pid, "port", in.port)

	// Without a readiness probe, an instance with a port is ready once the
	// port accepts connections (and, without probes, only then started).
	pollCtx, stopPoll := context.WithCancel(context.Background())
	polled := make(chan struct{})
	if w.Port != 0 && (in.probes == nil || !in.probes.Has(probes.Readiness)) {
		go func() {
			defer close(polled)
			if pollPort(pollCtx, in.port) {
				r.mu.Lock()
				if in.pid == proc.pid {
					in.portOpen = true
					r.refreshStatusLocked(in)
					r.refreshReadyLocked(in)
				}
				r.mu.Unlock()
			}
		}()
	} else {
		close(polled)
	}

	var killed probeKill
	select {
	case <-proc.done:
	case <-ctx.Done():
		r.terminate(in, proc, log)
	case killed = <-in.kill:
		// The kubelet's words: "Container web failed liveness probe, will be restarted".
		log.Info("probe failed, stopping instance", "reason", killed.reason, "message", killed.message)
		r.terminate(in, proc, log)
	}
	stopPoll()
	<-polled

	oom := group != nil && group.oomKilled()
	exit = proc.exit(oom)
	if killed.reason != "" && !exit.OOMKilled {
		exit.Reason = killed.reason
	}
	r.mu.Lock()
	in.pid, in.startedAt, in.portOpen = 0, time.Time{}, false
	in.current = nil
	if in.probes != nil {
		in.probes.RunEnded()
	}
	r.setReadyLocked(in, false)
	r.mu.Unlock()
	return exit, true
}

// started reports whether the current run is past startup: its startup
// probe passed (or it has none); without probes, once its $PORT accepts
// connections, or at once without a port.
func (r *Runtime) startedLocked(in *instance) bool {
	if in.pid == 0 {
		return false
	}
	if in.probes != nil {
		return in.probes.Started()
	}
	return in.svc.w.Port == 0 || in.portOpen
}

// refreshStatusLocked moves a Starting run to Running once it has started.
func (r *Runtime) refreshStatusLocked(in *instance) {
	if in.status == model.StatusStarting && r.startedLocked(in) {
		r.setStatusLocked(in, model.StatusRunning)
	}
}

// refreshReadyLocked sets readiness from what decides it: the readiness
// probe's effective result, or without one, having started and (with a
// port) the port accepting connections.
func (r *Runtime) refreshReadyLocked(in *instance) {
	if in.status != model.StatusRunning || in.pid == 0 {
		return // terminate and the end of a run clear readiness themselves
	}
	var ready bool
	if in.probes != nil && in.probes.Has(probes.Readiness) {
		ready = in.probes.Result(probes.Readiness) == probes.Success
	} else {
		ready = r.startedLocked(in) && (in.svc.w.Port == 0 || in.portOpen)
	}
	r.setReadyLocked(in, ready)
}

// probeChanged acts on a probe verdict, from the probe's worker: it
// publishes probe-failing and probe-recovered events, restarts the run on a
// liveness or startup failure, and updates status and readiness. Verdicts
// about an earlier run, or a run that is stopping, are dropped.
func (r *Runtime) probeChanged(in *instance, ch probes.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ch.Run != in.run || in.pid == 0 || (in.status != model.StatusStarting && in.status != model.StatusRunning) {
		return
	}
	st := ch.Status
	switch {
	case ch.Probed && ch.Result == probes.Failure:
		r.emitProbeLocked(in, model.InstanceProbeFailing, &st)
	case ch.Recovered:
		r.emitProbeLocked(in, model.InstanceProbeRecovered, &st)
	}
	if ch.Probed && ch.Result == probes.Failure && (ch.Type == probes.Liveness || ch.Type == probes.Startup) {
		reason := ReasonLivenessProbeFailed
		if ch.Type == probes.Startup {
			reason = ReasonStartupProbeFailed
		}
		select {
		case in.kill <- probeKill{reason: reason, message: ch.Message()}:
		default: // a kill is already pending
		}
	}
	r.refreshStatusLocked(in)
	r.refreshReadyLocked(in)
}

// terminate stops a run gracefully: SIGTERM to the process group, the grace
// period, then SIGKILL. It returns once the run is over.
func (r *Runtime) terminate(in *instance, proc *process, log *slog.Logger) {
	grace := in.svc.w.GracePeriod
	r.mu.Lock()
	r.setStatusLocked(in, model.StatusTerminating)
	r.setReadyLocked(in, false)
	r.mu.Unlock()
	log.Info("stopping instance", "pid", proc.pid, "grace", grace.String())
	if err := proc.signal(syscall.SIGTERM); err != nil {
		log.Warn("signal instance", "signal", "SIGTERM", "error", err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-proc.done:
	case <-t.C:
		log.Warn("grace period over, killing instance", "pid", proc.pid, "grace", grace.String())
		if err := proc.signal(syscall.SIGKILL); err != nil {
			log.Warn("signal instance", "signal", "SIGKILL", "error", err)
		}
		<-proc.done
	}
}

// limitsNotEnforced records that this instance runs without its limits.
func (r *Runtime) limitsNotEnforced(in *instance, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.limits != nil && in.limits.Enforced {
		l := *in.limits
		l.Enforced, l.Reason = false, err.Error()
		in.limits = &l
		r.log.Warn("resource limits not enforced for instance", "project", in.svc.w.Project, "instance", in.name, "error", err)
	}
}

// processSpec builds the command line, environment and directory of a run:
// opshub's environment, then the workload's Env (its values expanded from
// opshub's environment and the runtime's variables), then the runtime's
// variables, which nothing overrides. Command and WorkingDir are expanded
// from the result. Volume directories are created when missing.
func (r *Runtime) processSpec(in *instance) (processSpec, error) {
	w := &in.svc.w
	own, err := instanceVars(w, in.name, in.port, in.index, true)
	if err != nil {
		return processSpec{}, fmt.Errorf("instance %s: %w", in.name, err)
	}
	run := in.tmpl.spec
	if in.job != nil && len(in.job.env) > 0 {
		// A job run's own variables come after the workload's.
		run = run.Clone()
		for k, v := range in.job.env {
			run.Env[k] = v
		}
	}
	spec, err := expandSpec(run, own)
	if err != nil {
		return processSpec{}, fmt.Errorf("instance %s: %w", in.name, err)
	}
	return spec, nil
}

// instanceVars are the variables the runtime sets for an instance; mkdir
// creates missing volume directories.
func instanceVars(w *Workload, name string, port, index int, mkdir bool) (map[string]string, error) {
	own := map[string]string{
		"PORT":            strconv.Itoa(port),
		"OPSHUB_PROJECT":  w.Project,
		"OPSHUB_SERVICE":  w.Name,
		"OPSHUB_INSTANCE": name,
		"OPSHUB_REPLICA":  strconv.Itoa(index),
	}
	for _, v := range w.Volumes {
		path, err := filepath.Abs(v.Path)
		if err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if mkdir {
			if err := os.MkdirAll(path, 0o755); err != nil {
				return nil, fmt.Errorf("volume %s: %w", v.Name, err)
			}
		}
		own[vars.Volume(v.Name)] = path
	}
	return own, nil
}

// expandSpec builds a run's command line, environment and directory from a
// run spec and the runtime's variables (see processSpec).
func expandSpec(w model.RunSpec, own map[string]string) (processSpec, error) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	base := func(name string) (string, bool) {
		if v, ok := own[name]; ok {
			return v, true
		}
		v, ok := env[name]
		return v, ok
	}
	for k, v := range w.Env {
		env[k] = vars.Expand(v, base)
	}
	for k, v := range own {
		env[k] = v
	}
	full := func(name string) (string, bool) { v, ok := env[name]; return v, ok }

	args := make([]string, len(w.Command))
	for i, a := range w.Command {
		args[i] = vars.Expand(a, full)
	}
	spec := processSpec{args: args, dir: vars.Expand(w.WorkingDir, full), cgroupFD: -1}
	for k, v := range env {
		spec.env = append(spec.env, k+"="+v)
	}
	path, err := vars.LookPath(args[0], env["PATH"])
	if err != nil {
		return processSpec{}, err
	}
	spec.path = path
	return spec, nil
}

// pollPort tries to connect to 127.0.0.1:port until it succeeds (true) or
// ctx ends (false).
func pollPort(ctx context.Context, port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tick := time.NewTicker(portPollInterval)
	defer tick.Stop()
	for {
		d := net.Dialer{Timeout: portPollInterval}
		if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// setStatusLocked changes the status and the status gauges.
func (r *Runtime) setStatusLocked(in *instance, status model.Status) {
	if in.status == status {
		return
	}
	r.metrics.statusChanged(in.svc.ref(), in.status, status)
	in.status = status
}

// setReadyLocked is the readiness seam: the proxy routes only to ready
// instances. refreshReadyLocked decides readiness (from the readiness
// probe, or from $PORT without one); a stopping run clears it.
func (r *Runtime) setReadyLocked(in *instance, ready bool) {
	if in.ready == ready {
		return
	}
	in.ready = ready
	r.changedLocked(in.svc)
	if ready {
		in.readySince = r.clock.Now()
		r.availableLaterLocked(in.svc)
		r.emitLocked(in, model.InstanceReady, nil)
	} else {
		r.emitLocked(in, model.InstanceNotReady, nil)
	}
}

// recordExitLocked keeps exit as the last one and in the recent exits.
func (r *Runtime) recordExitLocked(in *instance, exit model.Exit, ran bool) {
	if !ran {
		return
	}
	in.lastExit = &exit
	in.recentExits = append([]model.Exit{exit}, in.recentExits...)
	if len(in.recentExits) > recentExitsKept {
		in.recentExits = in.recentExits[:recentExitsKept]
	}
}

// emitLocked publishes an event about the instance as it is now.
func (r *Runtime) emitLocked(in *instance, kind model.InstanceEventKind, exit *model.Exit) {
	ev := model.InstanceEvent{
		Kind:     kind,
		Ref:      in.ref(),
		Time:     r.clock.Now(),
		Status:   in.status,
		Restarts: in.restarts,
		Exit:     exit,
	}
	if kind == model.InstanceBackoff {
		ev.Backoff = in.backoff
	}
	r.events.Publish(ev)
}

// emitProbeLocked publishes a probe-failing or probe-recovered event.
func (r *Runtime) emitProbeLocked(in *instance, kind model.InstanceEventKind, st *model.ProbeStatus) {
	r.events.Publish(model.InstanceEvent{
		Kind:     kind,
		Ref:      in.ref(),
		Time:     r.clock.Now(),
		Status:   in.status,
		Restarts: in.restarts,
		Probe:    st,
	})
}

// snapshotLocked copies the instance for callers; history adds the
// probes' run histories.
func (in *instance) snapshotLocked(history bool) model.Instance {
	out := model.Instance{
		Name:        in.name,
		Container:   in.svc.w.Name,
		UID:         in.uid,
		Status:      in.status,
		Ready:       in.ready && !in.removing,
		Restarts:    in.restarts,
		Probes:      []model.ProbeStatus{},
		StartedAt:   in.startedAt,
		NextRestart: in.nextRestart,
		PID:         in.pid,
		Port:        in.port,
	}
	if in.probes != nil {
		out.Probes = in.probes.Status(history)
	}
	if in.lastExit != nil {
		e := *in.lastExit
		out.LastExit = &e
	}
	if len(in.recentExits) > 0 {
		out.RecentExits = append([]model.Exit(nil), in.recentExits...)
	}
	if in.backoff > 0 {
		out.Backoff = in.backoff.String()
	}
	if in.limits != nil {
		l := *in.limits
		out.Limits = &l
	}
	return out
}
