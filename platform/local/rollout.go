package local

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/probes"
)

var _ platform.Releaser = (*Runtime)(nil)

// drainPoll is how often a removed instance's in-flight requests are
// counted while it drains.
const drainPoll = 10 * time.Millisecond

// template is a run spec with its hash, the part of instance names that
// tells revisions apart (the pod-template-hash of a ReplicaSet).
type template struct {
	spec model.RunSpec
	hash string
}

func newTemplate(spec model.RunSpec) template {
	spec = spec.Clone()
	return template{spec: spec, hash: specHash(spec)}
}

// reconcileServiceLocked is the Deployment controller of one service. With
// every instance on the current template it only scales. Otherwise it
// replaces the others by the strategy:
//   - Recreate stops every old instance, and starts new ones only once no old
//     instance is left at all, so two never share a volume.
//   - RollingUpdate keeps at most desired+maxSurge instances (stopping ones
//     not counted, as Kubernetes does not count terminating pods) and at
//     least desired-maxUnavailable available ones: it starts new instances,
//     and stops an old one when that leaves enough available; old ones that
//     are not available go first when enough instances are left to make up
//     the minimum (the Deployment controller's cleanup of unhealthy pods).
func (r *Runtime) reconcileServiceLocked(ctx context.Context, s *service) {
	now := r.clock.Now()
	var cur, old []*instance
	oldPresent := 0
	for _, in := range s.instances {
		if in.job != nil {
			continue // a job's runs are started and stopped by package jobs
		}
		if in.tmpl.hash != s.tmpl.hash {
			oldPresent++
			if !in.removing {
				old = append(old, in)
			}
			continue
		}
		if !in.removing {
			cur = append(cur, in)
		}
	}
	d := s.desired
	// More instances of the template than desired (a scale-down): the
	// highest indexes go first.
	for len(cur) > d {
		r.retireLocked(cur[len(cur)-1], "scaling down")
		cur = cur[:len(cur)-1]
	}
	start := func(n int) {
		for range n {
			in, err := r.newInstanceLocked(s)
			if err != nil {
				r.log.Error("cannot create instance", "project", s.w.Project, "service", s.w.Name, "error", err)
				return
			}
			r.startLocked(ctx, in)
		}
	}
	if oldPresent == 0 {
		start(d - len(cur))
		if s.rolling && r.rolloutStatusLocked(s).Done {
			s.rolling = false // the proxy holds no more requests for it
		}
		return
	}
	if s.w.Strategy.Type == Recreate {
		for _, in := range old {
			r.retireLocked(in, "replaced (Recreate)")
		}
		return // new instances start once the old ones are gone
	}
	curAvailable, oldAvailable := 0, 0
	for _, in := range cur {
		if r.availableLocked(in, now) {
			curAvailable++
		}
	}
	for _, in := range old {
		if r.availableLocked(in, now) {
			oldAvailable++
		}
	}
	minAvailable := d - s.w.Strategy.MaxUnavailable
	// The Deployment controller's two steps: old instances that are not
	// available go first, as long as the instances left can still make up
	// minAvailable once the new ones are available; then available old
	// ones, as long as minAvailable stay available.
	scaleDown := len(cur) + len(old) - minAvailable - (len(cur) - curAvailable)
	for i := len(old) - 1; i >= 0 && scaleDown > 0; i-- {
		if in := old[i]; !r.availableLocked(in, now) {
			r.retireLocked(in, "replaced (RollingUpdate), not available")
			old = append(old[:i], old[i+1:]...)
			scaleDown--
		}
	}
	// Unavailable ones first, as a ReplicaSet deletes unready pods first.
	slices.SortStableFunc(old, func(a, b *instance) int {
		return cmp.Compare(boolInt(r.availableLocked(a, now)), boolInt(r.availableLocked(b, now)))
	})
	available := curAvailable + oldAvailable
	for len(old) > 0 && available-1 >= minAvailable {
		in := old[0]
		if r.availableLocked(in, now) {
			available--
		}
		r.retireLocked(in, "replaced (RollingUpdate)")
		old = old[1:]
	}
	total := len(cur) + len(old)
	if n := min(d-len(cur), d+s.w.Strategy.MaxSurge-total); n > 0 {
		start(n)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// availableLocked: ready, not leaving, and ready for at least MinReady.
func (r *Runtime) availableLocked(in *instance, now time.Time) bool {
	return in.ready && !in.removing && in.pid != 0 && now.Sub(in.readySince) >= in.svc.w.Strategy.MinReady
}

// retireLocked takes an instance out of the proxy at once, lets the
// requests it is serving finish (at most its grace period), then stops it
// with its grace period. Once its process is gone it leaves the service.
func (r *Runtime) retireLocked(in *instance, why string) {
	if in.removing {
		return
	}
	in.removing = true
	// As a pod with a deletion timestamp, it shows Terminating while it
	// drains, and is no longer counted ready.
	if in.status == model.StatusRunning || in.status == model.StatusStarting {
		r.setStatusLocked(in, model.StatusTerminating)
	}
	r.changedLocked(in.svc)
	r.log.Info("stopping instance", "project", in.svc.w.Project, "instance", in.name, "why", why)
	grace := in.svc.w.GracePeriod
	r.wg.Go(func() {
		deadline := time.Now().Add(grace)
		for in.inflight.Load() > 0 && time.Now().Before(deadline) {
			select {
			case <-r.closed:
				deadline = time.Now()
			case <-time.After(drainPoll):
			}
		}
		in.cancel()
	})
}

// changedLocked wakes the requests the proxy holds for s, and the
// reconcile loop when a rollout of s is under way.
func (r *Runtime) changedLocked(s *service) {
	close(s.changed)
	s.changed = make(chan struct{})
	if s.rolling {
		r.kickLocked()
	}
}

// kickLocked asks Run to reconcile.
func (r *Runtime) kickLocked() {
	select {
	case r.kick <- struct{}{}:
	default: // a reconcile is already pending
	}
}

// availableLaterLocked reconciles s again once an instance that just turned
// ready has been ready for MinReady.
func (r *Runtime) availableLaterLocked(s *service) {
	if !s.rolling || s.w.Strategy.MinReady <= 0 {
		return
	}
	after := r.clock.After(s.w.Strategy.MinReady)
	go func() {
		select {
		case <-after:
			r.mu.Lock()
			r.kickLocked()
			r.mu.Unlock()
		case <-r.closed:
		}
	}()
}

// Template returns the run spec the service's instances are driven to.
func (r *Runtime) Template(ctx context.Context, project, name string) (model.RunSpec, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.serviceLocked(project, name)
	if s == nil {
		return model.RunSpec{}, fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
	}
	return s.tmpl.spec.Clone(), nil
}

// CheckTemplate refuses a spec the runtime could not start: no command, an
// image (the local runtime runs commands), a bad variable name, a program
// that cannot be found or run, a working directory that does not exist.
func (r *Runtime) CheckTemplate(ctx context.Context, project, name string, spec model.RunSpec) error {
	r.mu.RLock()
	s := r.serviceLocked(project, name)
	var w Workload
	if s != nil {
		w = s.w
	}
	r.mu.RUnlock()
	if s == nil {
		return fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
	}
	if spec.Image != "" || len(spec.Images) > 0 {
		return &platform.SpecError{Field: "image", Msg: "the local platform runs commands, not images; use command"}
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return &platform.SpecError{Field: "command", Msg: "must not be empty"}
	}
	for k := range spec.Env {
		if !envNameRE.MatchString(k) {
			return &platform.SpecError{Field: "env", Msg: fmt.Sprintf("%q is not a valid variable name", k)}
		}
	}
	own, err := instanceVars(&w, w.Name+"-check-0", 0, 0, false)
	if err != nil {
		return &platform.SpecError{Field: "command", Msg: err.Error()}
	}
	ps, err := expandSpec(spec, own)
	if err != nil {
		return &platform.SpecError{Field: "command", Msg: err.Error()}
	}
	if ps.dir != "" {
		if st, err := os.Stat(ps.dir); err != nil || !st.IsDir() {
			return &platform.SpecError{Field: "workingDir", Msg: fmt.Sprintf("%s is not a directory", ps.dir)}
		}
	}
	prog := ps.path
	if !filepath.IsAbs(prog) && ps.dir != "" {
		prog = filepath.Join(ps.dir, prog)
	}
	st, err := os.Stat(prog)
	switch {
	case err != nil:
		return &platform.SpecError{Field: "command", Msg: fmt.Sprintf("program %q: not found", ps.path)}
	case !st.Mode().IsRegular() || st.Mode()&0o111 == 0:
		return &platform.SpecError{Field: "command", Msg: fmt.Sprintf("program %q: not an executable file", ps.path)}
	}
	return nil
}

// SetTemplate makes spec the run spec of the service's instances: a
// running Run replaces the others by the workload's strategy. Before Run it
// only sets what Run starts (the release that was running when opshub
// stopped).
func (r *Runtime) SetTemplate(ctx context.Context, project, name string, spec model.RunSpec) error {
	if spec.Image != "" || len(spec.Images) > 0 {
		return &platform.SpecError{Field: "image", Msg: "the local platform runs commands, not images; use command"}
	}
	if len(spec.Command) == 0 {
		return &platform.SpecError{Field: "command", Msg: "must not be empty"}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.serviceLocked(project, name)
	if s == nil {
		return fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
	}
	t := newTemplate(spec)
	if t.hash == s.tmpl.hash && t.spec.Equal(s.tmpl.spec) {
		// Nothing that runs changes; the spec's sources may have.
		s.tmpl = t
		return nil
	}
	r.log.Info("new run spec", "project", project, "service", name, "from", s.tmpl.hash, "to", t.hash, "strategy", s.w.Strategy.Type)
	s.tmpl = t
	s.rolling = true
	r.changedLocked(s)
	r.kickLocked()
	return nil
}

// RolloutProgress reports how far the service is on its way to its template.
func (r *Runtime) RolloutProgress(ctx context.Context, project, name string) (model.RolloutStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.serviceLocked(project, name)
	if s == nil {
		return model.RolloutStatus{}, fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
	}
	st := r.rolloutStatusLocked(s)
	if st.Done && s.rolling {
		s.rolling = false
	}
	return st, nil
}

func (r *Runtime) rolloutStatusLocked(s *service) model.RolloutStatus {
	now := r.clock.Now()
	st := model.RolloutStatus{Desired: s.desired}
	for _, in := range s.instances {
		if in.job != nil {
			continue
		}
		if in.tmpl.hash != s.tmpl.hash {
			st.Old++
			continue
		}
		if in.removing {
			continue
		}
		st.Updated++
		if in.ready {
			st.Ready++
		}
		if r.availableLocked(in, now) {
			st.Available++
		} else if st.Waiting == "" {
			st.Waiting = in.name + ": " + r.waitingWhyLocked(in, now)
		}
		ri := model.RolloutInstance{Name: in.name, Status: in.status, Ready: in.ready, Restarts: in.restarts}
		if in.lastExit != nil {
			e := *in.lastExit
			ri.LastExit = &e
		}
		st.New = append(st.New, ri)
	}
	if st.Waiting == "" && st.Updated < st.Desired {
		st.Waiting = fmt.Sprintf("starting %d new instance(s)", st.Desired-st.Updated)
		if st.Old > 0 && s.w.Strategy.Type == Recreate {
			st.Waiting = fmt.Sprintf("Recreate: waiting for %d old instance(s) to stop", st.Old)
		}
	}
	if st.Waiting == "" && st.Old > 0 {
		st.Waiting = fmt.Sprintf("stopping %d old instance(s)", st.Old)
	}
	st.Done = st.Updated == st.Desired && st.Available == st.Desired && st.Old == 0
	return st
}

// waitingWhyLocked says why a new instance is not available yet, in the
// words of `kubectl describe pod`.
func (r *Runtime) waitingWhyLocked(in *instance, now time.Time) string {
	switch {
	case in.status == model.StatusCrashing:
		msg := "crashing"
		if in.lastExit != nil {
			msg += fmt.Sprintf(": exit code %d", in.lastExit.Code)
			if in.lastExit.Reason != "" {
				msg += " (" + in.lastExit.Reason + ")"
			}
		}
		if in.backoff > 0 {
			msg += ", back-off " + in.backoff.String()
		}
		return msg
	case in.status == model.StatusStaging || in.pid == 0:
		return "starting"
	case in.ready:
		return fmt.Sprintf("ready, waiting minReadySeconds (%s)", in.svc.w.Strategy.MinReady-now.Sub(in.readySince).Truncate(time.Second))
	}
	if in.probes != nil {
		for _, p := range in.probes.Status(false) {
			if p.Result == string(probes.Success) || (p.Type == string(probes.Liveness)) {
				continue
			}
			msg := p.Type + " failing"
			if p.Result == string(probes.Unknown) {
				msg = p.Type + " not passed yet"
			}
			if p.Message != "" {
				msg += ": " + strings.TrimSpace(p.Message)
			}
			return msg
		}
	}
	if in.svc.w.Port != 0 && !in.portOpen {
		return "waiting for $PORT to accept connections"
	}
	return "starting"
}
