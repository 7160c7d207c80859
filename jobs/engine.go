package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opshub/opshub/internal/clock"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Runner runs one attempt of a job. The local runtime implements it.
type Runner interface {
	// RunJob starts a new instance of the job project/name called
	// instance, with env added to its environment, and returns how its
	// process ended once it has. When ctx ends first the instance is
	// stopped and the exit says how. An error means no process ran.
	RunJob(ctx context.Context, project, name, instance string, env map[string]string, started func(instance string)) (model.Exit, error)
}

// Concurrency policies, as a CronJob's.
const (
	Allow   = "Allow"
	Forbid  = "Forbid"
	Replace = "Replace"
)

// Spec is one job as configured.
type Spec struct {
	Project, Name string
	RunAtStart    bool
	// Schedule is a cron schedule ("" for none), read in TimeZone.
	Schedule, TimeZone string
	// StartingDeadline: a scheduled run missed by more than this is
	// skipped; 0 means no deadline.
	StartingDeadline time.Duration
	// Concurrency is Allow (the default), Forbid or Replace.
	Concurrency string
	// BackoffLimit is how many times a failed run is retried.
	BackoffLimit int
	// ActiveDeadline fails a run still going after it; 0 means none.
	ActiveDeadline time.Duration
}

// Options are the engine's dependencies.
type Options struct {
	Runner Runner
	// DB keeps the run history and the schedules' progress. Required.
	DB *store.DB
	// Publish receives job.* events; nil: dropped.
	Publish func(model.Event)
	Logger  *slog.Logger
	// Clock defaults to real time.
	Clock clock.Clock
	// RetryDelay is the first wait before a failed attempt is retried; it
	// doubles with each retry up to 6 minutes, as a Job's pod back-off.
	// Default 10s.
	RetryDelay time.Duration
	// Lookup finds a job that is not among the specs (on Kubernetes: a
	// CronJob or Job of the cluster, which runs on its own schedule there),
	// so that it can be run on demand and from flows. nil: only the specs
	// are jobs.
	Lookup func(project, name string) (Spec, bool)
	// Keep is how many runs per job the history keeps; default 50.
	Keep int
}

// ErrForbidden is returned by Start when the job's concurrencyPolicy is
// Forbid and a run of it is running.
var ErrForbidden = errors.New("a run of this job is running and its concurrencyPolicy is Forbid")

// ErrNotFound is returned for a job or run that does not exist.
var ErrNotFound = errors.New("not found")

type job struct {
	Spec
	schedule *Schedule
}

// active is a running run: cancel stops it with a cause; done closes when
// its record is final.
type active struct {
	cancel context.CancelCauseFunc
	done   chan struct{}
}

// Engine starts and follows job runs.
//
// Lifecycle: New checks the specs; Run marks runs that a previous process
// left running as failed (interrupted), starts the runAtStart runs, follows
// the schedules, and returns once every run it started has ended. Start may
// be called while Run runs.
type Engine struct {
	opts  Options
	log   *slog.Logger
	clock clock.Clock
	jobs  []*job
	// found are the jobs Lookup found, by key.
	foundMu sync.Mutex
	found   map[string]*job
	runs    *store.Bucket[Run]
	marks   *store.Bucket[time.Time] // per job: the newest scheduled time handled

	mu      sync.Mutex
	ctx     context.Context // Run's; nil before Run
	wg      sync.WaitGroup
	running map[string]map[string]*active // job key → run id → run
	lastID  time.Time
	// waiters of a finished run look it up in the store; done channels of
	// runs still going are in running.
}

// New checks the specs (schedules, time zones, policies).
func New(specs []Spec, opts Options) (*Engine, error) {
	if opts.DB == nil || opts.Runner == nil {
		return nil, errors.New("jobs: a store and a runner are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 10 * time.Second
	}
	if opts.Keep <= 0 {
		opts.Keep = 50
	}
	e := &Engine{
		opts: opts, log: opts.Logger.With("component", "jobs"), clock: opts.Clock,
		runs:    store.NewBucket[Run](opts.DB, "jobs.runs"),
		marks:   store.NewBucket[time.Time](opts.DB, "jobs.schedule"),
		running: map[string]map[string]*active{},
	}
	var errs []error
	for _, s := range specs {
		j := &job{Spec: s}
		switch s.Concurrency {
		case "":
			j.Concurrency = Allow
		case Allow, Forbid, Replace:
		default:
			errs = append(errs, fmt.Errorf("job %s/%s: concurrency policy %q: must be Allow, Forbid or Replace", s.Project, s.Name, s.Concurrency))
		}
		if s.Schedule != "" {
			sch, err := ParseSchedule(s.Schedule, s.TimeZone)
			if err != nil {
				errs = append(errs, fmt.Errorf("job %s/%s: schedule %q: %w", s.Project, s.Name, s.Schedule, err))
			}
			j.schedule = &sch
		}
		e.jobs = append(e.jobs, j)
	}
	return e, errors.Join(errs...)
}

func jobKey(project, name string) string { return project + "/" + name }

// Jobs lists the configured jobs, then those Lookup found.
func (e *Engine) Jobs() []Spec {
	out := make([]Spec, 0, len(e.jobs))
	for _, j := range e.jobs {
		out = append(out, j.Spec)
	}
	e.foundMu.Lock()
	defer e.foundMu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(e.found)) {
		out = append(out, e.found[k].Spec)
	}
	return out
}

func (e *Engine) job(project, name string) *job {
	for _, j := range e.jobs {
		if j.Project == project && j.Name == name {
			return j
		}
	}
	if e.opts.Lookup == nil {
		return nil
	}
	key := jobKey(project, name)
	e.foundMu.Lock()
	defer e.foundMu.Unlock()
	if j := e.found[key]; j != nil {
		return j
	}
	spec, ok := e.opts.Lookup(project, name)
	if !ok {
		return nil
	}
	if spec.Concurrency == "" {
		spec.Concurrency = Allow
	}
	if e.found == nil {
		e.found = map[string]*job{}
	}
	j := &job{Spec: spec}
	e.found[key] = j
	return j
}

// Run runs the engine until ctx ends, then waits for the runs it started.
func (e *Engine) Run(ctx context.Context) error {
	e.interrupted()
	e.mu.Lock()
	e.ctx = ctx
	e.mu.Unlock()
	for _, j := range e.jobs {
		if j.RunAtStart {
			if _, err := e.Start(j.Project, j.Name, TriggerStart, nil); err != nil {
				e.log.Warn("start job", "project", j.Project, "job", j.Name, "error", err)
			}
		}
	}
	var loops sync.WaitGroup
	for _, j := range e.jobs {
		if j.schedule != nil {
			loops.Go(func() { e.follow(ctx, j) })
		}
	}
	loops.Wait()
	e.wg.Wait()
	return nil
}

// interrupted fails the runs a previous process left running: opshub
// stopped (or was killed) during them.
func (e *Engine) interrupted() {
	all, err := e.runs.List()
	if err != nil {
		e.log.Error("read job runs", "error", err)
	}
	for _, ent := range all {
		r := ent.Value
		if r.State != StateRunning {
			continue
		}
		r.State, r.Finished, r.Message = StateFailed, e.clock.Now(), "interrupted: opshub stopped during the run"
		e.save(r)
	}
}

// follow starts the runs of j's schedule until ctx ends.
func (e *Engine) follow(ctx context.Context, j *job) {
	key := jobKey(j.Project, j.Name)
	last, ok, err := e.marks.Get(key)
	if err != nil {
		e.log.Error("read schedule progress", "job", key, "error", err)
	}
	if !ok {
		// A new schedule does not make up for times before opshub knew it.
		last = e.clock.Now()
		e.mark(key, last)
	}
	for {
		at, run, next := j.schedule.Due(last, e.clock.Now(), j.StartingDeadline)
		if !at.IsZero() {
			if run {
				if _, err := e.Start(j.Project, j.Name, TriggerSchedule, nil); err != nil {
					e.log.Info("scheduled run not started", "job", key, "scheduled", at, "reason", err)
				}
			} else {
				e.log.Warn("scheduled run missed by more than startingDeadlineSeconds; skipped", "job", key, "scheduled", at)
			}
			last = at
			e.mark(key, at)
		}
		select {
		case <-ctx.Done():
			return
		case <-e.clock.After(next.Sub(e.clock.Now())):
		}
	}
}

func (e *Engine) mark(key string, t time.Time) {
	if err := e.marks.Put(key, t); err != nil {
		e.log.Error("record schedule progress", "job", key, "error", err)
	}
}

// Running reports whether Run has started and not yet ended: Start refuses
// runs outside that time.
func (e *Engine) Running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ctx != nil && e.ctx.Err() == nil
}

// Start starts a run of project/name now and returns it (state running).
// With concurrencyPolicy Forbid it returns ErrForbidden while a run is
// going; with Replace the running runs are stopped and fail as replaced.
func (e *Engine) Start(project, name, trigger string, env map[string]string) (Run, error) {
	j := e.job(project, name)
	if j == nil {
		return Run{}, fmt.Errorf("job %s/%s: %w", project, name, ErrNotFound)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return Run{}, fmt.Errorf("job %s/%s: opshub is not running jobs now", project, name)
	}
	key := jobKey(project, name)
	if len(e.running[key]) > 0 {
		switch j.Concurrency {
		case Forbid:
			return Run{}, fmt.Errorf("job %s/%s: %w", project, name, ErrForbidden)
		case Replace:
			for id, a := range e.running[key] {
				a.cancel(fmt.Errorf("replaced by a newer run (concurrencyPolicy Replace)"))
				e.log.Info("replacing job run", "job", key, "run", id)
			}
		}
	}
	now := e.clock.Now()
	if !now.After(e.lastID) {
		now = e.lastID.Add(time.Millisecond) // ids stay unique and ordered
	}
	e.lastID = now.Truncate(time.Millisecond)
	r := Run{
		ID: runID(name, now), Project: project, Job: name, State: StateRunning, Trigger: trigger,
		Env: maps.Clone(env), Started: now, Instances: []string{},
	}
	if err := e.runs.Put(r.key(), r); err != nil {
		return Run{}, fmt.Errorf("job %s/%s: record run: %w", project, name, err)
	}
	ctx, cancel := context.WithCancelCause(e.ctx)
	a := &active{cancel: cancel, done: make(chan struct{})}
	if e.running[key] == nil {
		e.running[key] = map[string]*active{}
	}
	e.running[key][r.ID] = a
	e.publish(model.EventJobStarted, model.SeverityInfo, r, fmt.Sprintf("job %s started (%s)", key, trigger))
	e.wg.Go(func() {
		defer close(a.done)
		defer cancel(nil)
		e.execute(ctx, j, r)
		e.mu.Lock()
		delete(e.running[key], r.ID)
		e.mu.Unlock()
	})
	return r, nil
}

var errDeadline = errors.New("DeadlineExceeded: the run was active longer than activeDeadline")

// execute makes the attempts of run r and records each and the outcome.
func (e *Engine) execute(ctx context.Context, j *job, r Run) {
	if j.ActiveDeadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, j.ActiveDeadline, errDeadline)
		defer cancel()
	}
	delay := e.opts.RetryDelay
	for attempt := 1; ; attempt++ {
		instance := r.ID + "-" + strconv.Itoa(attempt)
		r.Attempts = attempt
		r.Instances = append(r.Instances, instance)
		e.save(r)
		exit, err := e.opts.Runner.RunJob(ctx, r.Project, r.Job, instance, r.Env, nil)
		if err == nil {
			code := exit.Code
			r.ExitCode = &code
		}
		switch {
		case ctx.Err() != nil:
			e.finish(r, StateFailed, stopCause(ctx))
			return
		case err != nil:
			r.Message = err.Error()
		case exit.Code == 0:
			e.finish(r, StateSucceeded, "")
			return
		default:
			r.Message = fmt.Sprintf("attempt %d exited with code %d (%s)", attempt, exit.Code, exit.Reason)
		}
		if attempt > j.BackoffLimit {
			e.finish(r, StateFailed, fmt.Sprintf("BackoffLimitExceeded: %d attempts failed; the last: %s", attempt, r.Message))
			return
		}
		e.save(r)
		select {
		case <-ctx.Done():
			e.finish(r, StateFailed, stopCause(ctx))
			return
		case <-e.clock.After(delay):
		}
		delay = min(2*delay, 6*time.Minute)
	}
}

// stopCause says why ctx ended: the active deadline, a newer run, or
// opshub stopping.
func stopCause(ctx context.Context) string {
	cause := context.Cause(ctx)
	if errors.Is(cause, context.Canceled) {
		return "interrupted: opshub is stopping"
	}
	return cause.Error()
}

func (e *Engine) finish(r Run, state, message string) {
	r.State, r.Finished = state, e.clock.Now()
	if message != "" || state == StateSucceeded {
		r.Message = message
	}
	e.save(r)
	key := jobKey(r.Project, r.Job)
	if state == StateSucceeded {
		e.publish(model.EventJobSucceeded, model.SeverityInfo, r, fmt.Sprintf("job %s succeeded after %d attempt(s)", key, r.Attempts))
	} else {
		e.publish(model.EventJobFailed, model.SeverityWarning, r, fmt.Sprintf("job %s failed: %s", key, r.Message))
	}
	e.log.Info("job run ended", "job", key, "run", r.ID, "state", state, "attempts", r.Attempts, "message", r.Message)
	e.prune(r.Project, r.Job)
}

func (e *Engine) save(r Run) {
	if err := e.runs.Put(r.key(), r); err != nil {
		e.log.Error("record job run", "run", r.ID, "error", err)
	}
}

// prune keeps the newest Keep runs of a job.
func (e *Engine) prune(project, name string) {
	runs, err := e.Runs(project, name)
	if err != nil || len(runs) <= e.opts.Keep {
		return
	}
	for _, r := range runs[e.opts.Keep:] {
		if r.State != StateRunning {
			if err := e.runs.Delete(r.key()); err != nil {
				e.log.Error("prune job runs", "error", err)
			}
		}
	}
}

func (e *Engine) publish(name string, sev model.Severity, r Run, summary string) {
	if e.opts.Publish == nil {
		return
	}
	data := map[string]any{"run": r.ID, "trigger": r.Trigger, "attempts": r.Attempts}
	if r.ExitCode != nil {
		data["exitCode"] = *r.ExitCode
	}
	if r.Message != "" {
		data["message"] = r.Message
	}
	e.opts.Publish(model.Event{
		Name: name, Status: model.StatusFiring, Severity: sev, Time: e.clock.Now(),
		Project: r.Project, Service: r.Job, Summary: summary, Data: data,
	})
}

// Runs lists a job's runs, newest first.
func (e *Engine) Runs(project, name string) ([]Run, error) {
	if e.job(project, name) == nil {
		return nil, fmt.Errorf("job %s/%s: %w", project, name, ErrNotFound)
	}
	prefix := jobKey(project, name) + "/"
	all, err := e.runs.List()
	var out []Run
	for _, ent := range all {
		if strings.HasPrefix(ent.Key, prefix) {
			out = append(out, ent.Value)
		}
	}
	slices.Reverse(out)
	return out, err
}

// Wait waits until run id of project/name has ended and returns it.
func (e *Engine) Wait(ctx context.Context, project, name, id string) (Run, error) {
	e.mu.Lock()
	a := e.running[jobKey(project, name)][id]
	e.mu.Unlock()
	if a != nil {
		select {
		case <-a.done:
		case <-ctx.Done():
			return Run{}, ctx.Err()
		}
	}
	r, ok, err := e.runs.Get(jobKey(project, name) + "/" + id)
	switch {
	case err != nil:
		return Run{}, err
	case !ok:
		return Run{}, fmt.Errorf("job run %s: %w", id, ErrNotFound)
	}
	return r, nil
}
