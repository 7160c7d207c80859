// Package release records and drives releases: each rollout of a new run
// spec of a service (command, env, working directory and version on one
// machine; images and env on Kubernetes) is a numbered revision with a
// trigger, a state and live progress, kept per service in the state file.
//
// The Manager asks the platform (platform.Releaser) to move a service to a
// spec and follows its progress; replacing instances by the strategy is the
// platform's job. The Manager owns what a Deployment does not do: the
// progress deadline, failing early on crash-looping new instances or failed
// startup probes, the automatic rollback to the last succeeded revision,
// superseding, resuming after a restart, deploy.* events and the release
// self-metrics. It must not know how a platform runs instances.
package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/store"
)

// Defaults, as in a Deployment and the config file.
const (
	DefaultProgressDeadline  = 10 * time.Minute
	DefaultHistoryLimit      = 10
	DefaultCrashLoopRestarts = 3
	// failureLogLines is how many log lines of a failing new instance
	// deploy.failed carries.
	failureLogLines = 20
	defaultPoll     = 200 * time.Millisecond
)

// Options configure a Manager.
type Options struct {
	Platform platform.Releaser // required
	DB       *store.DB         // required
	// Publish receives deploy.* events (the alerting pipeline); nil drops them.
	Publish func(model.Event)
	// Logs returns the last n lines of an instance's output, for
	// deploy.failed; nil leaves them out.
	Logs       func(ctx context.Context, instance model.Ref, n int) ([]string, error)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// ProgressDeadline: a rollout not done by then fails; default 10m.
	ProgressDeadline time.Duration
	// AutoRollback rolls a failed rollout back to the last succeeded
	// revision.
	AutoRollback bool
	// HistoryLimit is the releases kept per service; default 10.
	HistoryLimit int
	// CrashLoopRestarts: a new instance restarted this many times is
	// crash-looping and fails the rollout at once; default 3, the
	// container.crashloop rule.
	CrashLoopRestarts int
	// Poll is how often progress is read; default 200ms.
	Poll time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Change is what a deploy asks for; empty fields keep the current value.
type Change struct {
	Image     string            `json:"image,omitempty"`
	Container string            `json:"container,omitempty"`
	Command   []string          `json:"command,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	UnsetEnv  []string          `json:"unsetEnv,omitempty"`
	Version   string            `json:"version,omitempty"`
	Reason    string            `json:"reason,omitempty"`
}

// Error is a request the Manager refuses: Code is the HTTP status that
// fits (400 bad input, 404 unknown service or revision, 409 conflict),
// Field the request field at fault.
type Error struct {
	Code  int
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

func badRequest(field, format string, args ...any) error {
	return &Error{Code: 400, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Manager records releases and drives rollouts. Lifecycle: New has no side
// effects; Restore (before the platform runs) puts back what ran when
// opshub stopped; Run follows rollouts until ctx ends.
type Manager struct {
	opts    Options
	log     *slog.Logger
	hist    *history
	sealer  *sealer
	metrics *metrics
	now     func() time.Time

	mu sync.Mutex
	// active holds the progressing release of each service that has one.
	active map[model.Ref]*model.Release
	// agreed holds, on a platform.ExternalReleaser, the (sealed) spec each
	// service's template had when its history last agreed with it, so
	// that an unchanged service costs no read of its history; nil until
	// the first look (see syncLocked).
	agreed map[model.Ref]model.RunSpec
	wake   chan struct{}
}

// New returns a Manager; it registers its metrics.
func New(opts Options) (*Manager, error) {
	if opts.Platform == nil || opts.DB == nil {
		return nil, errors.New("release: platform and store are required")
	}
	if opts.ProgressDeadline <= 0 {
		opts.ProgressDeadline = DefaultProgressDeadline
	}
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = DefaultHistoryLimit
	}
	if opts.CrashLoopRestarts <= 0 {
		opts.CrashLoopRestarts = DefaultCrashLoopRestarts
	}
	if opts.Poll <= 0 {
		opts.Poll = defaultPoll
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Publish == nil {
		opts.Publish = func(model.Event) {}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	sl, err := newSealer(opts.DB)
	if err != nil {
		return nil, err
	}
	return &Manager{
		opts: opts, log: opts.Logger.With("component", "release"),
		hist: newHistory(opts.DB, opts.HistoryLimit, sl), sealer: sl, metrics: m, now: opts.Now,
		active: map[model.Ref]*model.Release{}, wake: make(chan struct{}, 1),
	}, nil
}

// Restore runs before the platform starts its instances. For each service,
// with the run spec the config file gives it now:
//   - a service without history gets revision 1, succeeded, triggered by
//     config;
//   - otherwise the platform is set to the release that ran: the one in
//     progress (its rollout resumes, with its deadline) or the last
//     succeeded one, so a restart never reverts a deploy;
//   - when the config's spec differs from the one the config gave when
//     opshub last looked, it is rolled out as a release triggered by config;
//     so it is when the release that ran holds a secret value opshub no
//     longer knows (see secrets.go).
func (m *Manager) Restore(ctx context.Context, configSpecs map[model.Ref]model.RunSpec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, spec := range configSpecs {
		m.sealer.remember(spec)
	}
	refs := slices.SortedFunc(maps.Keys(configSpecs), func(a, b model.Ref) int {
		if a.Project != b.Project {
			if a.Project < b.Project {
				return -1
			}
			return 1
		}
		if a.Service < b.Service {
			return -1
		}
		if a.Service > b.Service {
			return 1
		}
		return 0
	})
	var errs []error
	for _, ref := range refs {
		if err := m.restoreLocked(ctx, ref, configSpecs[ref]); err != nil {
			errs = append(errs, fmt.Errorf("release: restore %s: %w", ref, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) restoreLocked(ctx context.Context, ref model.Ref, cfgSpec model.RunSpec) error {
	m.metrics.known(ref.Project, ref.Service)
	hist, err := m.hist.list(ref)
	if err != nil {
		return err
	}
	now := m.now().UTC()
	if len(hist) == 0 {
		rel := model.Release{
			Project: ref.Project, Service: ref.Service, Revision: 1, State: model.ReleaseSucceeded,
			Spec: cfgSpec.Clone(), Trigger: model.ReleaseTrigger{Kind: model.TriggerConfig},
			Started: now, Finished: &now, Reason: "first run",
		}
		if err := m.hist.put(rel); err != nil {
			return err
		}
		if err := m.hist.setConfigSpec(ref, cfgSpec); err != nil {
			return err
		}
		// Nothing runs yet; the template takes the spec's sources.
		return m.opts.Platform.SetTemplate(ctx, ref.Project, ref.Service, cfgSpec)
	}
	latest := hist[0]
	// lost says why the release that ran cannot run again: a secret value
	// opshub no longer knows. The config's spec is rolled out instead.
	var lost string
	if latest.State == model.ReleaseProgressing {
		spec, err := m.sealer.unseal(latest.Spec)
		switch {
		case err != nil:
			lost = fmt.Sprintf("revision %d cannot resume: %v", latest.Revision, err)
		default:
			if err := m.opts.Platform.SetTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
				return err
			}
			m.active[ref] = &latest
			m.metrics.inProgress.WithLabelValues(ref.Project, ref.Service).Set(1)
			m.log.Info("resuming rollout", "project", ref.Project, "service", ref.Service, "revision", latest.Revision)
		}
	} else if good, ok := lastSucceeded(hist, 0); ok {
		spec, err := m.sealer.unseal(good.Spec)
		if err != nil {
			lost = fmt.Sprintf("revision %d cannot run again: %v", good.Revision, err)
		} else if err := m.opts.Platform.SetTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
			return err
		}
	}
	prev, ok, err := m.hist.configSpec(ref)
	if err != nil {
		return err
	}
	if lost == "" && ok && prev.Equal(m.sealer.seal(cfgSpec)) {
		return m.refreshSourcesLocked(ctx, ref, cfgSpec)
	}
	if err := m.hist.setConfigSpec(ref, cfgSpec); err != nil {
		return err
	}
	if lost == "" {
		if cur, _ := m.opts.Platform.Template(ctx, ref.Project, ref.Service); cur.Equal(cfgSpec) {
			return m.refreshSourcesLocked(ctx, ref, cfgSpec)
		}
	}
	reason := m.configReason(prev, ok, cfgSpec)
	if lost != "" {
		m.log.Warn("release cannot run again", "project", ref.Project, "service", ref.Service, "reason", lost)
		reason += "; " + lost
	}
	_, err = m.startLocked(ctx, ref, hist, cfgSpec, model.ReleaseTrigger{Kind: model.TriggerConfig}, reason, 0)
	return err
}

// refreshSourcesLocked hands spec to the platform when it runs what the
// platform's template runs but says other things of where its variables
// came from (a variable moved from one group to another with its value):
// nothing is replaced, and the environment shows the new sources.
func (m *Manager) refreshSourcesLocked(ctx context.Context, ref model.Ref, spec model.RunSpec) error {
	cur, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service)
	if err != nil || !cur.Equal(spec) || cur.SameSources(spec) {
		return nil
	}
	return m.opts.Platform.SetTemplate(ctx, ref.Project, ref.Service, spec)
}

// CheckConfig refuses a run spec from a config file that the platform
// could not run, before anything changes.
func (m *Manager) CheckConfig(ctx context.Context, ref model.Ref, spec model.RunSpec) error {
	m.mu.Lock()
	prev, ok, err := m.hist.configSpec(ref)
	same := err == nil && ok && prev.Equal(m.sealer.seal(spec))
	m.mu.Unlock()
	if same {
		return nil // what the config gave before: nothing to check
	}
	if err := m.opts.Platform.CheckTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
		return specError(ref, err)
	}
	return nil
}

// ConfigChanged rolls out a service's new run spec from a reloaded config
// file as a release triggered by config, its reason naming the groups whose
// variables changed; an unchanged spec does nothing (a spec whose sources
// alone changed only updates them).
func (m *Manager) ConfigChanged(ctx context.Context, ref model.Ref, spec model.RunSpec) (*model.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sealer.remember(spec)
	prev, ok, err := m.hist.configSpec(ref)
	if err != nil {
		return nil, err
	}
	if ok && prev.Equal(m.sealer.seal(spec)) {
		if !prev.SameSources(spec) {
			if err := m.hist.setConfigSpec(ref, spec); err != nil {
				return nil, err
			}
		}
		return nil, m.refreshSourcesLocked(ctx, ref, spec)
	}
	if err := m.opts.Platform.CheckTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
		return nil, specError(ref, err)
	}
	if err := m.hist.setConfigSpec(ref, spec); err != nil {
		return nil, err
	}
	cur, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service)
	if err != nil {
		return nil, specError(ref, err)
	}
	if cur.Equal(spec) {
		return nil, m.refreshSourcesLocked(ctx, ref, spec)
	}
	hist, err := m.hist.list(ref)
	if err != nil {
		return nil, err
	}
	rel, err := m.startLocked(ctx, ref, hist, spec, model.ReleaseTrigger{Kind: model.TriggerConfig}, m.configReason(prev, ok, spec), 0)
	return &rel, err
}

// currentLocked is where a release of ref that an API call starts begins:
// the service's history imported (once) and the platform's current template.
func (m *Manager) currentLocked(ctx context.Context, ref model.Ref) (model.RunSpec, error) {
	m.ensureHistoryLocked(ctx, ref)
	cur, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service)
	if err != nil {
		return model.RunSpec{}, specError(ref, err)
	}
	return cur, nil
}

// Deploy starts a release of the service with change applied to its
// current spec (the one being rolled out, if a rollout is in progress: that
// rollout is then superseded).
func (m *Manager) Deploy(ctx context.Context, ref model.Ref, ch Change, trigger model.ReleaseTrigger) (model.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.currentLocked(ctx, ref)
	if err != nil {
		return model.Release{}, err
	}
	m.sealer.remember(cur)
	if ch.Image == "" && ch.Command == nil && len(ch.Env) == 0 && len(ch.UnsetEnv) == 0 && ch.Version == "" {
		return model.Release{}, badRequest("", "nothing to deploy: give at least one of image, command, env, unsetEnv or version")
	}
	if ch.Command != nil && len(ch.Command) == 0 {
		return model.Release{}, badRequest("command", "command must not be empty")
	}
	next := cur.Clone()
	switch {
	case ch.Image != "" && ch.Container != "":
		// Only the named container; the platform knows whether it is
		// the default one whose image Image shows.
		if next.Images == nil {
			next.Images = map[string]string{}
		}
		next.Images[ch.Container] = ch.Image
	case ch.Image != "":
		next.Image = ch.Image
	case ch.Container != "":
		return model.Release{}, badRequest("container", "container needs an image")
	}
	if ch.Command != nil {
		next.Command = slices.Clone(ch.Command)
	}
	for k, v := range ch.Env {
		next.Env[k] = v
		// A deployed value is the release's own, not a group's secret.
		if next.Sources == nil {
			next.Sources = map[string]model.EnvSource{}
		}
		next.Sources[k] = model.EnvSource{From: model.SourceDeploy}
	}
	for _, k := range ch.UnsetEnv {
		if _, ok := ch.Env[k]; ok {
			return model.Release{}, badRequest("unsetEnv", "%s is both set and unset", k)
		}
		delete(next.Env, k)
		delete(next.Sources, k)
	}
	if ch.Version != "" {
		next.Version = ch.Version
	}
	if next.Equal(cur) {
		return model.Release{}, badRequest("", "nothing changes: %s/%s already runs this spec", ref.Project, ref.Service)
	}
	if err := m.opts.Platform.CheckTemplate(ctx, ref.Project, ref.Service, next); err != nil {
		return model.Release{}, specError(ref, err)
	}
	hist, err := m.hist.list(ref)
	if err != nil {
		return model.Release{}, err
	}
	return m.startLocked(ctx, ref, hist, next, trigger, ch.Reason, 0)
}

// Rollback starts a release that restores the spec of revision (0: the
// last succeeded revision before the current one).
func (m *Manager) Rollback(ctx context.Context, ref model.Ref, revision int, trigger model.ReleaseTrigger, reason string) (model.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, err := m.currentLocked(ctx, ref)
	if err != nil {
		return model.Release{}, err
	}
	cur = m.sealer.seal(cur)
	hist, err := m.hist.list(ref)
	if err != nil {
		return model.Release{}, err
	}
	var target model.Release
	if revision == 0 {
		skip := 0
		if len(hist) > 0 && hist[0].State == model.ReleaseSucceeded {
			skip = hist[0].Revision
		}
		good, ok := lastSucceeded(hist, skip)
		if !ok {
			return model.Release{}, &Error{Code: 409, Field: "revision", Msg: fmt.Sprintf("%s/%s has no earlier succeeded revision to roll back to", ref.Project, ref.Service)}
		}
		target = good
	} else {
		i := slices.IndexFunc(hist, func(r model.Release) bool { return r.Revision == revision })
		if i < 0 {
			known := make([]int, 0, len(hist))
			for _, r := range hist {
				known = append(known, r.Revision)
			}
			return model.Release{}, &Error{Code: 404, Field: "revision", Msg: fmt.Sprintf("%s/%s has no revision %d in its history (known: %v)", ref.Project, ref.Service, revision, known)}
		}
		target = hist[i]
	}
	if target.Spec.Equal(cur) && (len(hist) == 0 || hist[0].State != model.ReleaseProgressing) {
		return model.Release{}, badRequest("revision", "%s/%s already runs the spec of revision %d", ref.Project, ref.Service, target.Revision)
	}
	spec, err := m.sealer.unseal(target.Spec)
	if err != nil {
		return model.Release{}, &Error{Code: 409, Field: "revision", Msg: fmt.Sprintf("%s/%s cannot go back to revision %d: %v", ref.Project, ref.Service, target.Revision, err)}
	}
	if err := m.opts.Platform.CheckTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
		return model.Release{}, specError(ref, err)
	}
	if reason == "" {
		reason = fmt.Sprintf("rollback to revision %d", target.Revision)
	}
	trigger.Kind = model.TriggerRollback
	m.metrics.rollbacks.WithLabelValues(ref.Project, ref.Service, "manual").Inc()
	return m.startLocked(ctx, ref, hist, spec, trigger, reason, target.Revision)
}

// Releases lists a service's releases, newest first.
func (m *Manager) Releases(ctx context.Context, ref model.Ref) ([]model.Release, error) {
	if _, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service); err != nil {
		return nil, specError(ref, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ensureHistoryLocked(ctx, ref)
	hist, err := m.hist.list(ref)
	if err != nil {
		return nil, err
	}
	if a := m.active[ref]; a != nil && len(hist) > 0 && hist[0].Revision == a.Revision {
		hist[0] = *a // the live progress
	}
	if hist == nil {
		hist = []model.Release{}
	}
	return hist, nil
}

// lastSucceeded is the newest succeeded release other than revision skip.
func lastSucceeded(hist []model.Release, skip int) (model.Release, bool) {
	for _, r := range hist {
		if r.State == model.ReleaseSucceeded && r.Revision != skip {
			return r, true
		}
	}
	return model.Release{}, false
}

// specError turns a platform's refusal into an Error.
func specError(ref model.Ref, err error) error {
	var se *platform.SpecError
	var ue *platform.UnmanagedError
	switch {
	case errors.As(err, &ue):
		return &Error{Code: 409, Field: "service", Msg: ue.Msg}
	case errors.As(err, &se):
		return &Error{Code: 400, Field: se.Field, Msg: se.Error()}
	case errors.Is(err, platform.ErrNotFound):
		return &Error{Code: 404, Field: "service", Msg: fmt.Sprintf("service %s/%s not found", ref.Project, ref.Service)}
	}
	return err
}

// startLocked records a new progressing release of spec, ends the one in
// progress (superseded, or rolled-back when this is a rollback) and hands
// spec to the platform.
func (m *Manager) startLocked(ctx context.Context, ref model.Ref, hist []model.Release, spec model.RunSpec, trigger model.ReleaseTrigger, reason string, rollbackOf int) (model.Release, error) {
	now := m.now().UTC()
	next := 1
	if len(hist) > 0 {
		next = hist[0].Revision + 1
	}
	var writes []model.Release
	if len(hist) > 0 && hist[0].State == model.ReleaseProgressing {
		prev := hist[0]
		if a := m.active[ref]; a != nil && a.Revision == prev.Revision {
			prev = *a
		}
		result := resultSuperseded
		prev.State, prev.Reason = model.ReleaseSuperseded, fmt.Sprintf("superseded by revision %d", next)
		if trigger.Kind == model.TriggerRollback || trigger.Kind == model.TriggerAutoRollback {
			result = resultRolledBack
			prev.State, prev.Reason = model.ReleaseRolledBack, fmt.Sprintf("rolled back by revision %d", next)
		}
		prev.Finished = &now
		prev.Deadline = nil
		m.metrics.rollouts.WithLabelValues(ref.Project, ref.Service, result).Inc()
		writes = append(writes, prev)
	}
	deadline := now.Add(m.opts.ProgressDeadline)
	rel := model.Release{
		Project: ref.Project, Service: ref.Service, Revision: next, State: model.ReleaseProgressing,
		Spec: spec.Clone(), Trigger: trigger, Started: now, Reason: reason, RollbackOf: rollbackOf, Deadline: &deadline,
	}
	if st, err := m.opts.Platform.RolloutProgress(ctx, ref.Project, ref.Service); err == nil {
		rel.Progress = model.ReleaseProgress{Desired: st.Desired, Old: st.Updated + st.Old}
	}
	writes = append(writes, rel)
	if err := m.hist.put(writes...); err != nil {
		return model.Release{}, err
	}
	if err := m.opts.Platform.SetTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
		rel.State, rel.Reason, rel.Finished, rel.Deadline = model.ReleaseFailed, err.Error(), &now, nil
		_ = m.hist.put(rel)
		delete(m.active, ref)
		return m.sealer.sealRelease(rel), specError(ref, err)
	}
	// The platform may complete the spec (Kubernetes: the images of every
	// container); record what it runs, so that the spec compares equal to
	// what the platform reports later.
	if got, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service); err == nil && !got.Equal(rel.Spec) {
		got.Sources = rel.Spec.Sources
		rel.Spec = got
		if err := m.hist.put(rel); err != nil {
			m.log.Warn("record release", "project", ref.Project, "service", ref.Service, "error", err)
		}
	}
	// From here on the release is kept and shown sealed; the platform
	// has the values.
	rel = m.sealer.sealRelease(rel)
	m.active[ref] = &rel
	m.metrics.known(ref.Project, ref.Service)
	m.metrics.inProgress.WithLabelValues(ref.Project, ref.Service).Set(1)
	m.log.Info("rollout started", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "trigger", trigger.Kind, "by", trigger.By)
	m.publish(rel, model.EventDeployStarted, model.SeverityInfo, fmt.Sprintf("%s/%s: rolling out revision %d (%s)", ref.Project, ref.Service, rel.Revision, describeTrigger(rel)), nil)
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return rel, nil
}

func describeTrigger(rel model.Release) string {
	s := rel.Trigger.Kind
	if rel.Trigger.By != "" {
		s += " by " + rel.Trigger.By
	}
	if rel.RollbackOf != 0 {
		s += fmt.Sprintf(", restoring revision %d", rel.RollbackOf)
	}
	return s
}

// Run follows the rollouts in progress until ctx ends. On a platform whose
// templates can change without opshub (platform.ExternalReleaser) it also
// records such changes, and takes over the releases a previous controller
// left in progress (see syncLocked).
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.Poll)
	defer t.Stop()
	ext, _ := m.opts.Platform.(platform.ExternalReleaser)
	var synced time.Time
	for {
		if ext != nil && time.Since(synced) >= syncEvery {
			m.mu.Lock()
			m.syncLocked(ctx, ext)
			m.mu.Unlock()
			synced = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.wake:
		}
		m.mu.Lock()
		for _, ref := range slices.Collect(maps.Keys(m.active)) {
			m.checkLocked(ctx, ref)
		}
		m.mu.Unlock()
	}
}

// checkLocked reads the progress of one rollout and ends it when it is done
// or has failed.
func (m *Manager) checkLocked(ctx context.Context, ref model.Ref) {
	rel := m.active[ref]
	st, err := m.opts.Platform.RolloutProgress(ctx, ref.Project, ref.Service)
	if err != nil {
		m.log.Warn("read rollout status", "project", ref.Project, "service", ref.Service, "error", err)
		return
	}
	progress := model.ReleaseProgress{Desired: st.Desired, Updated: st.Updated, Ready: st.Ready, Old: st.Old, Waiting: st.Waiting}
	now := m.now().UTC()
	if st.Revision != 0 {
		rel.PlatformRevision = st.Revision
	}
	switch {
	case st.Done:
		rel.Progress = progress
		rel.Progress.Waiting = ""
		m.finishLocked(ctx, ref, rel, now)
		return
	case rel.Deadline != nil && now.After(*rel.Deadline):
		// The release's own deadline: the one who started it may have
		// had another setting (a controller before a failover).
		limit := rel.Deadline.Sub(rel.Started)
		if limit >= time.Second {
			limit = limit.Round(time.Second)
		}
		why := fmt.Sprintf("progress deadline exceeded (%s)", limit)
		if st.Waiting != "" {
			why += ": " + st.Waiting
		}
		rel.Progress = progress
		m.failLocked(ctx, ref, rel, why, failingInstance(st), now)
		return
	case st.Failed != "":
		rel.Progress = progress
		m.failLocked(ctx, ref, rel, st.Failed, failingInstance(st), now)
		return
	}
	for _, in := range st.New {
		switch {
		case in.Restarts >= m.opts.CrashLoopRestarts:
			why := fmt.Sprintf("new instance %s is crash-looping: restarted %d times", in.Name, in.Restarts)
			if in.LastExit != nil {
				why += fmt.Sprintf(", last exit code %d", in.LastExit.Code)
				if in.LastExit.Reason != "" {
					why += " (" + in.LastExit.Reason + ")"
				}
			}
			rel.Progress = progress
			m.failLocked(ctx, ref, rel, why, in.Name, now)
			return
		case in.LastExit != nil && in.LastExit.Reason == "StartupProbeFailed":
			rel.Progress = progress
			m.failLocked(ctx, ref, rel, fmt.Sprintf("new instance %s failed its startup probe", in.Name), in.Name, now)
			return
		}
	}
	if progress != rel.Progress {
		rel.Progress = progress
		if err := m.hist.put(*rel); err != nil {
			m.log.Warn("record rollout progress", "project", ref.Project, "service", ref.Service, "error", err)
		}
	}
}

// failingInstance names the new instance to take log lines from: the one
// with the most restarts, or any that is not ready.
func failingInstance(st model.RolloutStatus) string {
	name, most := "", -1
	for _, in := range st.New {
		if in.Restarts > most || (in.Restarts == most && !in.Ready) {
			name, most = in.Name, in.Restarts
		}
	}
	return name
}

func (m *Manager) finishLocked(ctx context.Context, ref model.Ref, rel *model.Release, now time.Time) {
	rel.State, rel.Finished, rel.Deadline = model.ReleaseSucceeded, &now, nil
	if err := m.hist.put(*rel); err != nil {
		m.log.Error("record release", "project", ref.Project, "service", ref.Service, "error", err)
	}
	delete(m.active, ref)
	m.metrics.inProgress.WithLabelValues(ref.Project, ref.Service).Set(0)
	m.metrics.rollouts.WithLabelValues(ref.Project, ref.Service, resultSucceeded).Inc()
	took := now.Sub(rel.Started)
	m.metrics.duration.WithLabelValues(ref.Project, ref.Service).Observe(took.Seconds())
	m.log.Info("rollout succeeded", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "took", took.String())
	if rel.RollbackOf != 0 {
		m.publish(*rel, model.EventDeployRolledBack, model.SeverityWarning,
			fmt.Sprintf("%s/%s rolled back to revision %d (now revision %d, %s)", ref.Project, ref.Service, rel.RollbackOf, rel.Revision, rel.Trigger.Kind), nil)
		return
	}
	m.publish(*rel, model.EventDeploySucceeded, model.SeverityInfo,
		fmt.Sprintf("%s/%s revision %d rolled out in %s", ref.Project, ref.Service, rel.Revision, took.Round(100*time.Millisecond)), nil)
}

// failLocked ends a rollout as failed, tells deploy.failed with the reason
// and the last log lines of instance, and rolls back when asked to.
func (m *Manager) failLocked(ctx context.Context, ref model.Ref, rel *model.Release, why, instance string, now time.Time) {
	rel.State, rel.Reason, rel.Finished, rel.Deadline = model.ReleaseFailed, why, &now, nil
	delete(m.active, ref)
	m.metrics.inProgress.WithLabelValues(ref.Project, ref.Service).Set(0)
	m.log.Warn("rollout failed", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "reason", why)
	data := map[string]any{"reason": why}
	if instance != "" {
		data["instance"] = instance
		if m.opts.Logs != nil {
			lines, err := m.opts.Logs(ctx, model.Ref{Project: ref.Project, Service: ref.Service, Instance: instance, Container: ref.Service}, failureLogLines)
			if err != nil {
				m.log.Warn("read logs of the failing instance", "instance", instance, "error", err)
			}
			if lines == nil {
				lines = []string{}
			}
			data["logs"] = lines
		}
	}
	hist, err := m.hist.list(ref)
	if err != nil {
		m.log.Error("read releases", "error", err)
	}
	good, haveGood := lastSucceeded(hist, rel.Revision)
	rollback := m.opts.AutoRollback && rel.Trigger.Kind != model.TriggerAutoRollback && haveGood && !good.Spec.Equal(rel.Spec)
	if rollback {
		// A service whose releases are made outside opshub is not
		// rolled back by it.
		if err := m.opts.Platform.CheckTemplate(ctx, ref.Project, ref.Service, good.Spec); err != nil {
			rollback = false
			m.log.Warn("no automatic rollback", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "reason", err)
			data["noRollback"] = err.Error()
		}
	}
	summary := fmt.Sprintf("%s/%s revision %d failed: %s", ref.Project, ref.Service, rel.Revision, why)
	var goodSpec model.RunSpec
	if rollback {
		var err error
		if goodSpec, err = m.sealer.unseal(good.Spec); err != nil {
			rollback = false
			summary += fmt.Sprintf("; cannot roll back to revision %d: %v", good.Revision, err)
			rel.Reason += fmt.Sprintf("; cannot roll back to revision %d: %v", good.Revision, err)
		}
	}
	if rollback {
		summary += fmt.Sprintf("; rolling back to revision %d", good.Revision)
	}
	ev := *rel
	if !rollback {
		m.metrics.rollouts.WithLabelValues(ref.Project, ref.Service, resultFailed).Inc()
		if err := m.hist.put(*rel); err != nil {
			m.log.Error("record release", "error", err)
		}
		m.publish(ev, model.EventDeployFailed, model.SeverityCritical, summary, data)
		return
	}
	m.publish(ev, model.EventDeployFailed, model.SeverityCritical, summary, data)
	// startLocked marks the failed release rolled-back and counts it.
	rel.State = model.ReleaseProgressing
	if err := m.hist.put(*rel); err != nil {
		m.log.Error("record release", "error", err)
	}
	hist[0] = *rel
	m.metrics.rollbacks.WithLabelValues(ref.Project, ref.Service, "auto").Inc()
	next, err := m.startLocked(ctx, ref, hist, goodSpec, model.ReleaseTrigger{Kind: model.TriggerAutoRollback},
		fmt.Sprintf("revision %d failed: %s", rel.Revision, why), good.Revision)
	if err != nil {
		m.log.Error("automatic rollback", "project", ref.Project, "service", ref.Service, "error", err)
		return
	}
	// Keep the failure's reason on the rolled-back release.
	hist, _ = m.hist.list(ref)
	for _, r := range hist {
		if r.Revision == rel.Revision {
			r.Reason = why + fmt.Sprintf("; rolled back by revision %d", next.Revision)
			_ = m.hist.put(r)
		}
	}
}

func (m *Manager) publish(rel model.Release, name string, sev model.Severity, summary string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["revision"] = rel.Revision
	// The alerting pipeline throttles per event and resource; each
	// revision is a resource of its own, so no release's events are held
	// back by an earlier one's ("resource" is alerting.DataResource).
	data["resource"] = fmt.Sprintf("revision-%d", rel.Revision)
	data["trigger"] = rel.Trigger.Kind
	if rel.Trigger.By != "" {
		data["by"] = rel.Trigger.By
	}
	if rel.Spec.Version != "" {
		data["version"] = rel.Spec.Version
	}
	if rel.RollbackOf != 0 {
		data["rollbackOf"] = rel.RollbackOf
	}
	status := model.StatusFiring
	m.opts.Publish(model.Event{
		ID:       fmt.Sprintf("evt_%s_%s_%d_%s", rel.Project, rel.Service, rel.Revision, name),
		Name:     name,
		Status:   status,
		Severity: sev,
		Time:     m.now().UTC(),
		Project:  rel.Project,
		Service:  rel.Service,
		Summary:  summary,
		Data:     data,
	})
}
