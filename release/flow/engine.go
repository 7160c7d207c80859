package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Options are the engine's dependencies. A nil dependency makes the steps
// that need it fail with a clear message.
type Options struct {
	// DB keeps runs, step logs, webhook deliveries and git heads. Required.
	DB       *store.DB
	Commands Commands
	Jobs     Jobs
	Releases Releases
	Volumes  Volumes
	// Snapshots, when set, takes backup steps as volume snapshots
	// (Kubernetes) instead of archives under BackupDir.
	Snapshots Snapshots
	// HTTP calls the URLs of http steps; default a client with a 30s
	// timeout.
	HTTP *http.Client
	// Publish receives flow.* events; nil drops them.
	Publish func(model.Event)
	Logger  *slog.Logger
	// BackupDir holds the archives of backup steps, one folder per run.
	BackupDir string
	// RetryDelay is the first wait before a failed step is retried; it
	// doubles with each retry up to MaxRetryDelay. Default 1s.
	RetryDelay    time.Duration
	MaxRetryDelay time.Duration
	// Poll is how often a deploy step reads its release; default 250ms.
	Poll time.Duration
	// Git is the git program; default "git" on $PATH.
	Git string
	// Keep is how many runs per flow are kept; default 100.
	Keep int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Errors callers branch on.
var (
	ErrNotFound  = errors.New("not found")
	ErrForbidden = errors.New("a run of this flow is queued or running and its concurrency is forbid")
	ErrConflict  = errors.New("conflict")
)

// startWait is how long Start waits for Run to have started.
const startWait = 10 * time.Second

// logLines is how many lines of each step's output are kept.
const logLines = 500

// failureLines is how many of the failed step's lines flow.failed carries.
const failureLines = 20

// Engine starts, runs and records flow runs.
//
// Lifecycle: New checks the specs and has no side effects; Run fails the
// runs a previous process left running, starts the queued ones, polls the
// git triggers and returns once every run it started has ended. Start,
// Cancel, Approve, Rollback and Hook may be called while Run runs.
type Engine struct {
	opts  Options
	log   *slog.Logger
	flows []Spec
	runs  *store.Bucket[record]
	logs  *store.Bucket[[]string]
	seen  *store.Bucket[time.Time] // webhook deliveries: flow/provider/id → when
	heads *store.Bucket[string]    // git triggers: flow/repo/branch → last head

	mu      sync.Mutex
	ctx     context.Context // Run's; nil before Run
	wg      sync.WaitGroup
	active  map[string]*active // run id → a queued or running run
	lastID  time.Time
	started chan struct{} // closed when Run has started
	git     map[string]GitState

	recoverOnce sync.Once
	queued      []record
}

// active is a run that has not ended.
type active struct {
	rec       record
	cancel    context.CancelCauseFunc // nil while queued
	done      chan struct{}
	approvals map[string]chan string // step → approver, for waiting approval steps
	logs      map[string]*lineBuffer
}

// New checks the specs: unique names, known needs, no cycles, one kind per
// step, known concurrency.
func New(specs []Spec, opts Options) (*Engine, error) {
	if opts.DB == nil {
		return nil, errors.New("flow: a store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = time.Second
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = time.Minute
	}
	if opts.Poll <= 0 {
		opts.Poll = 250 * time.Millisecond
	}
	if opts.Git == "" {
		opts.Git = "git"
	}
	if opts.Keep <= 0 {
		opts.Keep = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Publish == nil {
		opts.Publish = func(model.Event) {}
	}
	var errs []error
	names := map[string]bool{}
	for i, s := range specs {
		if names[s.Name] {
			errs = append(errs, fmt.Errorf("flow %q: defined twice", s.Name))
		}
		names[s.Name] = true
		switch s.Concurrency {
		case "":
			specs[i].Concurrency = Queue
		case Allow, Queue, Forbid:
		default:
			errs = append(errs, fmt.Errorf("flow %q: concurrency %q: must be allow, queue or forbid", s.Name, s.Concurrency))
		}
		if err := checkSteps(s.Steps); err != nil {
			errs = append(errs, fmt.Errorf("flow %q: %w", s.Name, err))
		}
	}
	return &Engine{
		opts: opts, log: opts.Logger.With("component", "flows"), flows: specs,
		runs:    store.NewBucket[record](opts.DB, "flows.runs"),
		logs:    store.NewBucket[[]string](opts.DB, "flows.logs"),
		seen:    store.NewBucket[time.Time](opts.DB, "flows.deliveries"),
		heads:   store.NewBucket[string](opts.DB, "flows.git"),
		active:  map[string]*active{},
		started: make(chan struct{}),
	}, errors.Join(errs...)
}

// checkSteps refuses what config validation refuses too, for callers that
// build specs themselves.
func checkSteps(steps []Step) error {
	if len(steps) == 0 {
		return errors.New("no steps")
	}
	index := map[string]int{}
	for i, s := range steps {
		if _, dup := index[s.Name]; dup {
			return fmt.Errorf("step %q defined twice", s.Name)
		}
		index[s.Name] = i
		if s.Kind() == "" {
			return fmt.Errorf("step %q has no kind", s.Name)
		}
	}
	for _, s := range steps {
		for _, n := range s.Needs {
			if _, ok := index[n]; !ok {
				return fmt.Errorf("step %q needs %q, which is no step", s.Name, n)
			}
		}
	}
	if _, err := order(steps); err != nil {
		return err
	}
	return nil
}

// order sorts steps so that each comes after its needs, or says where a
// cycle is.
func order(steps []Step) ([]string, error) {
	done := map[string]bool{}
	var out []string
	for len(out) < len(steps) {
		progress := false
		for _, s := range steps {
			if done[s.Name] {
				continue
			}
			ready := true
			for _, n := range s.Needs {
				ready = ready && done[n]
			}
			if ready {
				done[s.Name] = true
				out = append(out, s.Name)
				progress = true
			}
		}
		if !progress {
			return nil, errors.New("the needs of the steps form a cycle")
		}
	}
	return out, nil
}

// Flows lists the configured flows.
func (e *Engine) Flows() []Spec { return slices.Clone(e.flows) }

func (e *Engine) flow(name string) *Spec {
	for i := range e.flows {
		if e.flows[i].Name == name {
			return &e.flows[i]
		}
	}
	return nil
}

// Run runs the engine until ctx ends, then waits for the runs it started
// (they end as interrupted).
func (e *Engine) Run(ctx context.Context) error {
	e.Recover()
	queued := e.queued
	e.mu.Lock()
	e.ctx = ctx
	for _, rec := range queued {
		e.active[rec.Run.ID] = newActive(rec)
	}
	for _, s := range e.flows {
		e.startQueuedLocked(s.Name)
	}
	close(e.started)
	e.mu.Unlock()

	var loops sync.WaitGroup
	for _, s := range e.flows {
		for _, g := range s.Git {
			loops.Go(func() { e.poll(ctx, s.Name, g) })
		}
	}
	<-ctx.Done()
	loops.Wait()
	e.wg.Wait()
	return nil
}

func newActive(rec record) *active {
	return &active{rec: rec, done: make(chan struct{}), approvals: map[string]chan string{}, logs: map[string]*lineBuffer{}}
}

// Recover fails the runs a previous process left running (interrupted),
// so that the API shows them as they are from the start; Run calls it
// when nobody did. The queued runs it finds are started by Run, oldest
// first.
func (e *Engine) Recover() {
	e.recoverOnce.Do(func() { e.queued = e.recover() })
}

func (e *Engine) recover() []record {
	all, err := e.runs.List()
	if err != nil {
		e.log.Error("read flow runs", "error", err)
	}
	var queued []record
	now := e.opts.Now()
	for _, ent := range all {
		rec := ent.Value
		switch rec.Run.State {
		case RunQueued:
			queued = append(queued, rec)
		case RunRunning:
			r := &rec.Run
			failed := ""
			for i := range r.Steps {
				st := &r.Steps[i]
				switch st.State {
				case StepRunning, StepWaiting, StepRetrying:
					st.State, st.Finished, st.Message = StepFailed, now, "interrupted: opshub stopped during the step"
					failed = st.Name
					e.stopInterrupted(r, st)
				case StepPending:
					st.State = StepSkipped
				}
			}
			r.State, r.Finished, r.Message = RunFailed, now, "interrupted: opshub stopped during the run"
			e.save(rec)
			e.log.Warn("flow run interrupted by a restart", "flow", r.Flow, "run", r.ID)
			e.publishEnd(*r, failed, nil)
		}
	}
	sort.SliceStable(queued, func(i, j int) bool { return queued[i].Run.Created.Before(queued[j].Run.Created) })
	return queued
}

// stopInterrupted stops what an interrupted run step left running (a
// Job on Kubernetes) and notes it in the step's log.
func (e *Engine) stopInterrupted(r *Run, st *StepState) {
	lines, _, _ := e.logs.Get(r.ID + "/" + st.Name)
	note := "[opshub] interrupted: opshub stopped during the step"
	if stopper, ok := e.opts.Commands.(CommandStopper); ok && st.Kind == "run" && st.Attempts > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		did, err := stopper.StopCommand(ctx, Command{Flow: r.Flow, Run: r.ID, Step: st.Name, Attempt: st.Attempts})
		cancel()
		switch {
		case err != nil:
			note += fmt.Sprintf("; attempt %d could not be stopped: %v", st.Attempts, err)
			e.log.Error("stop an interrupted flow step", "run", r.ID, "step", st.Name, "error", err)
		case did != "":
			note += "; " + did
		}
	}
	if err := e.logs.Put(r.ID+"/"+st.Name, append(lines, note)); err != nil {
		e.log.Error("record step logs", "run", r.ID, "step", st.Name, "error", err)
	}
}

func (e *Engine) save(rec record) {
	if err := e.runs.Put(rec.Run.ID, rec); err != nil {
		e.log.Error("record flow run", "run", rec.Run.ID, "error", err)
	}
}

// Running reports whether Run has started and not yet ended: Start refuses
// runs outside that time.
func (e *Engine) Running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ctx != nil && e.ctx.Err() == nil
}

// Start asks for a run of flow name with args. Depending on the flow's
// concurrency the run starts now, is queued, or is refused with
// ErrForbidden. A run whose steps refer to arguments not given fails at
// once, before any step starts.
func (e *Engine) Start(name string, trigger Trigger, args map[string]string) (Run, error) {
	s := e.flow(name)
	if s == nil {
		return Run{}, fmt.Errorf("flow %q: %w", name, ErrNotFound)
	}
	args, err := NormalizeArgs(args)
	if err != nil {
		return Run{}, err
	}
	// The API may answer before Run has started: a run asked for then
	// waits for it rather than being refused.
	select {
	case <-e.started:
	case <-time.After(startWait):
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return Run{}, fmt.Errorf("flow %q: opshub is not running flows now", name)
	}
	busy := false
	for _, a := range e.active {
		busy = busy || (a.rec.Run.Flow == name && a.rec.Run.Trigger.Kind != TriggerRollback)
	}
	if busy && s.Concurrency == Forbid {
		return Run{}, fmt.Errorf("flow %q: %w", name, ErrForbidden)
	}
	rec := e.newRecordLocked(name, trigger, args, s.Steps)
	if miss := missing(s.Steps, args); len(miss) > 0 {
		rec.Run.State, rec.Run.Finished = RunFailed, rec.Run.Created
		rec.Run.Message = fmt.Sprintf("missing argument(s) %s: give them with --arg NAME=VALUE, as webhook query parameters, or from a git trigger", strings.Join(miss, ", "))
		for i := range rec.Run.Steps {
			rec.Run.Steps[i].State = StepSkipped
		}
		e.save(rec)
		e.publishEnd(rec.Run, "", nil)
		return rec.Run, nil
	}
	plan, err := substitute(s.Steps, args)
	if err != nil {
		return Run{}, fmt.Errorf("flow %q: arguments: %w", name, err)
	}
	rec.Plan = plan
	e.save(rec)
	e.active[rec.Run.ID] = newActive(rec)
	if busy && s.Concurrency == Queue {
		e.log.Info("flow run queued", "flow", name, "run", rec.Run.ID)
		return cloneRun(rec.Run), nil
	}
	e.launchLocked(rec.Run.ID)
	return cloneRun(e.active[rec.Run.ID].rec.Run), nil
}

func (e *Engine) newRecordLocked(name string, trigger Trigger, args map[string]string, steps []Step) record {
	now := e.opts.Now().UTC()
	if !now.After(e.lastID) {
		now = e.lastID.Add(time.Millisecond)
	}
	now = now.Truncate(time.Millisecond)
	e.lastID = now
	r := Run{ID: runID(name, now), Flow: name, State: RunQueued, Trigger: trigger, Args: args, Created: now}
	if r.Args == nil {
		r.Args = map[string]string{}
	}
	for _, st := range steps {
		r.Steps = append(r.Steps, StepState{Name: st.Name, Kind: st.Kind(), State: StepPending})
	}
	return record{Run: r, Plan: steps}
}

// startQueuedLocked starts the oldest queued run of a flow when none of it
// runs (every queued one for allow, after a restart).
func (e *Engine) startQueuedLocked(name string) {
	s := e.flow(name)
	if s == nil {
		return
	}
	var queued []*active
	for _, a := range e.active {
		if a.rec.Run.Flow != name || a.rec.Run.Trigger.Kind == TriggerRollback {
			continue
		}
		if a.cancel != nil {
			if s.Concurrency != Allow {
				return // one runs
			}
			continue
		}
		queued = append(queued, a)
	}
	sort.Slice(queued, func(i, j int) bool { return queued[i].rec.Run.Created.Before(queued[j].rec.Run.Created) })
	for _, a := range queued {
		e.launchLocked(a.rec.Run.ID)
		if s.Concurrency != Allow {
			return
		}
	}
}

// launchLocked starts executing a recorded run.
func (e *Engine) launchLocked(id string) {
	a := e.active[id]
	ctx, cancel := context.WithCancelCause(e.ctx)
	a.cancel = cancel
	r := &a.rec.Run
	r.State, r.Started = RunRunning, e.opts.Now().UTC()
	e.save(a.rec)
	e.log.Info("flow run started", "flow", r.Flow, "run", r.ID, "trigger", r.Trigger.Kind)
	e.publish(model.EventFlowStarted, model.SeverityInfo, *r, fmt.Sprintf("flow %s run %s started (%s)", r.Flow, r.ID, describe(r.Trigger)), nil)
	e.wg.Go(func() {
		defer cancel(nil)
		e.execute(ctx, a)
		e.mu.Lock()
		delete(e.active, id)
		close(a.done)
		if e.ctx.Err() == nil {
			e.startQueuedLocked(a.rec.Run.Flow)
		}
		e.mu.Unlock()
		e.prune(a.rec.Run.Flow)
	})
}

func describe(t Trigger) string {
	s := t.Kind
	if t.By != "" {
		s += " by " + t.By
	}
	if t.Provider != "" {
		s += " from " + t.Provider
	}
	if t.RollbackOf != "" {
		s += " of run " + t.RollbackOf
	}
	return s
}

// Runs lists the runs of a flow ("" for every flow), newest first.
func (e *Engine) Runs(flow string) ([]Run, error) {
	if flow != "" && e.flow(flow) == nil {
		return nil, fmt.Errorf("flow %q: %w", flow, ErrNotFound)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	all, err := e.runs.List()
	out := []Run{}
	for _, ent := range all {
		r := ent.Value.Run
		if a := e.active[r.ID]; a != nil {
			r = a.rec.Run
		}
		if flow == "" || r.Flow == flow {
			out = append(out, cloneRun(r))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

// Get returns one run.
func (e *Engine) Get(id string) (Run, error) {
	rec, err := e.record(id)
	return rec.Run, err
}

func (e *Engine) record(id string) (record, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.active[id]; a != nil {
		rec := a.rec
		rec.Run = cloneRun(rec.Run)
		return rec, nil
	}
	rec, ok, err := e.runs.Get(id)
	switch {
	case err != nil:
		return record{}, err
	case !ok:
		return record{}, fmt.Errorf("flow run %q: %w", id, ErrNotFound)
	}
	return rec, nil
}

func cloneRun(r Run) Run {
	r.Steps = slices.Clone(r.Steps)
	r.Args = maps.Clone(r.Args)
	r.Releases = slices.Clone(r.Releases)
	return r
}

// Wait waits until run id has ended and returns it.
func (e *Engine) Wait(ctx context.Context, id string) (Run, error) {
	e.mu.Lock()
	a := e.active[id]
	e.mu.Unlock()
	if a != nil {
		select {
		case <-a.done:
		case <-ctx.Done():
			return Run{}, ctx.Err()
		}
	}
	return e.Get(id)
}

// Logs returns the kept output of a step of a run.
func (e *Engine) Logs(id, step string) ([]string, error) {
	rec, err := e.record(id)
	if err != nil {
		return nil, err
	}
	if rec.Run.Step(step) == nil {
		return nil, fmt.Errorf("flow run %s has no step %q: %w", id, step, ErrNotFound)
	}
	e.mu.Lock()
	if a := e.active[id]; a != nil && a.logs[step] != nil {
		lines := a.logs[step].lines()
		e.mu.Unlock()
		return lines, nil
	}
	e.mu.Unlock()
	lines, _, err := e.logs.Get(id + "/" + step)
	if lines == nil {
		lines = []string{}
	}
	return lines, err
}

// Cancel stops a run: a queued one never starts, a running one has its
// running steps stopped and the rest skipped.
func (e *Engine) Cancel(id, by string) (Run, error) {
	e.mu.Lock()
	a := e.active[id]
	if a == nil {
		e.mu.Unlock()
		r, err := e.Get(id)
		if err != nil {
			return Run{}, err
		}
		return r, fmt.Errorf("flow run %s has ended (%s): %w", id, r.State, ErrConflict)
	}
	why := "cancelled"
	if by != "" {
		why += " by " + by
	}
	if a.cancel == nil { // queued
		r := &a.rec.Run
		r.State, r.Finished, r.Message = RunCancelled, e.opts.Now().UTC(), why
		for i := range r.Steps {
			r.Steps[i].State = StepSkipped
		}
		e.save(a.rec)
		delete(e.active, id)
		close(a.done)
		e.mu.Unlock()
		return cloneRun(*r), nil
	}
	a.cancel(errCancelled{why})
	e.mu.Unlock()
	return e.Wait(context.Background(), id)
}

type errCancelled struct{ why string }

func (c errCancelled) Error() string { return c.why }

// Approve approves a waiting approval step.
func (e *Engine) Approve(id, step, by string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.active[id]
	if a == nil {
		_, ok, err := e.runs.Get(id)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("flow run %q: %w", id, ErrNotFound)
		}
		return fmt.Errorf("flow run %s has ended: %w", id, ErrConflict)
	}
	st := a.rec.Run.Step(step)
	switch {
	case st == nil:
		return fmt.Errorf("flow run %s has no step %q: %w", id, step, ErrNotFound)
	case st.Kind != "approval":
		return fmt.Errorf("step %q is a %s step, not an approval: %w", step, st.Kind, ErrConflict)
	}
	ch := a.approvals[step]
	if ch == nil || st.State != StepWaiting {
		return fmt.Errorf("step %q is %s, not waiting for an approval: %w", step, st.State, ErrConflict)
	}
	if by == "" {
		by = "api"
	}
	select {
	case ch <- by:
	default:
	}
	return nil
}

// prune keeps the newest Keep runs of a flow; older ones go with their
// logs and backups.
func (e *Engine) prune(flow string) {
	runs, err := e.Runs(flow)
	if err != nil || len(runs) <= e.opts.Keep {
		return
	}
	for _, r := range runs[e.opts.Keep:] {
		if !r.Done() {
			continue
		}
		if err := e.runs.Delete(r.ID); err != nil {
			e.log.Error("prune flow runs", "error", err)
		}
		for _, st := range r.Steps {
			_ = e.logs.Delete(r.ID + "/" + st.Name)
		}
		if e.opts.BackupDir != "" {
			_ = os.RemoveAll(filepath.Join(e.opts.BackupDir, r.Flow, r.ID))
		}
		var snaps []string
		for _, st := range r.Steps {
			snaps = append(snaps, st.Snapshots...)
		}
		if len(snaps) > 0 && e.opts.Snapshots != nil {
			if err := e.opts.Snapshots.DeleteSnapshots(context.Background(), snaps); err != nil {
				e.log.Error("prune the volume snapshots of a flow run", "run", r.ID, "error", err)
			}
		}
	}
}

// publish sends a flow.* event; each run is a resource of its own, so
// no run's events are throttled by another's.
func (e *Engine) publish(name string, sev model.Severity, r Run, summary string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["flow"] = r.Flow
	data["run"] = r.ID
	data["resource"] = r.ID
	data["trigger"] = r.Trigger.Kind
	if len(r.Args) > 0 {
		data["args"] = maps.Clone(r.Args)
	}
	e.opts.Publish(model.Event{
		ID: "evt_" + r.ID + "_" + name, Name: name, Status: model.StatusFiring, Severity: sev,
		Time: e.opts.Now().UTC(), Service: r.Flow, Summary: summary, Data: data,
	})
}

// publishEnd sends flow.succeeded or flow.failed; a failure names the
// failed step and carries its last lines.
func (e *Engine) publishEnd(r Run, failedStep string, lines []string) {
	if r.State == RunSucceeded {
		e.publish(model.EventFlowSucceeded, model.SeverityInfo, r, fmt.Sprintf("flow %s run %s succeeded in %s", r.Flow, r.ID, r.Finished.Sub(r.Started).Round(100*time.Millisecond)), nil)
		return
	}
	data := map[string]any{"state": r.State}
	summary := fmt.Sprintf("flow %s run %s %s", r.Flow, r.ID, r.State)
	if failedStep != "" {
		data["step"] = failedStep
		if st := r.Step(failedStep); st != nil {
			summary += fmt.Sprintf(": step %s: %s", failedStep, st.Message)
		}
		if lines == nil {
			lines, _, _ = e.logs.Get(r.ID + "/" + failedStep)
		}
		if len(lines) > failureLines {
			lines = lines[len(lines)-failureLines:]
		}
		if lines == nil {
			lines = []string{}
		}
		data["logs"] = lines
	} else if r.Message != "" {
		summary += ": " + r.Message
	}
	if r.Message != "" {
		data["message"] = r.Message
	}
	e.publish(model.EventFlowFailed, model.SeverityWarning, r, summary, data)
}
