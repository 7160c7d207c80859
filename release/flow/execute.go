package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// stepDone is a step's outcome, reported to the scheduler.
type stepDone struct {
	name string
	err  error
}

// execute runs the DAG of a launched run and records its end.
func (e *Engine) execute(ctx context.Context, a *active) {
	plan := a.rec.Plan
	byName := map[string]Step{}
	for _, s := range plan {
		byName[s.Name] = s
	}
	results := make(chan stepDone)
	running := 0
	failedStep := ""
	var failure error
	state := func(name string) string {
		e.mu.Lock()
		defer e.mu.Unlock()
		return a.rec.Run.Step(name).State
	}
	for {
		if failure == nil && ctx.Err() == nil {
			for _, s := range plan {
				if state(s.Name) != StepPending {
					continue
				}
				ready := true
				for _, n := range s.Needs {
					ready = ready && state(n) == StepSucceeded
				}
				if !ready {
					continue
				}
				e.update(a, s.Name, func(st *StepState) { st.State, st.Started = StepRunning, e.opts.Now().UTC() })
				running++
				go func() { results <- stepDone{s.Name, e.attempts(ctx, a, s)} }()
			}
		}
		if running == 0 {
			break
		}
		d := <-results
		running--
		if d.err != nil && failure == nil {
			failure, failedStep = d.err, d.name
		}
	}
	// Whatever did not start is skipped.
	e.mu.Lock()
	r := &a.rec.Run
	for i := range r.Steps {
		if r.Steps[i].State == StepPending {
			r.Steps[i].State = StepSkipped
		}
	}
	r.Finished = e.opts.Now().UTC()
	var cancelled errCancelled
	switch {
	case errors.As(context.Cause(ctx), &cancelled):
		r.State, r.Message = RunCancelled, cancelled.why
		failedStep = ""
	case ctx.Err() != nil:
		r.State, r.Message = RunFailed, "interrupted: opshub stopped during the run"
	case failure != nil:
		r.State, r.Message = RunFailed, fmt.Sprintf("step %s failed: %v", failedStep, failure)
	default:
		r.State = RunSucceeded
	}
	var lines []string
	if failedStep != "" && a.logs[failedStep] != nil {
		lines = a.logs[failedStep].lines()
	}
	e.save(a.rec)
	run := cloneRun(*r)
	e.mu.Unlock()
	e.log.Info("flow run ended", "flow", run.Flow, "run", run.ID, "state", run.State, "message", run.Message)
	e.publishEnd(run, failedStep, lines)
}

// update changes a step's state under the lock and records the run.
func (e *Engine) update(a *active, step string, fn func(st *StepState)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fn(a.rec.Run.Step(step))
	e.save(a.rec)
}

// stepLog returns the step's output buffer.
func (e *Engine) stepLog(a *active, step string) *lineBuffer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a.logs[step] == nil {
		a.logs[step] = &lineBuffer{max: logLines}
	}
	return a.logs[step]
}

// attempts runs a step until it succeeds or has failed retries+1 times,
// waiting longer after each failure.
func (e *Engine) attempts(ctx context.Context, a *active, s Step) error {
	out := e.stepLog(a, s.Name)
	defer func() {
		if err := e.logs.Put(a.rec.Run.ID+"/"+s.Name, out.lines()); err != nil {
			e.log.Error("record step logs", "run", a.rec.Run.ID, "step", s.Name, "error", err)
		}
	}()
	delay := e.opts.RetryDelay
	for attempt := 1; ; attempt++ {
		e.update(a, s.Name, func(st *StepState) {
			st.Attempts = attempt
			if st.State == StepRetrying {
				st.State = StepRunning
			}
		})
		if attempt > 1 {
			out.Printf("--- attempt %d of %d", attempt, s.Retries+1)
		}
		actx, cancel := ctx, context.CancelFunc(func() {})
		timeout := s.Timeout
		if timeout == 0 && s.Approval != nil {
			timeout = DefaultApprovalTimeout
		}
		if timeout > 0 {
			actx, cancel = context.WithTimeoutCause(ctx, timeout, fmt.Errorf("timed out after %s", timeout))
		}
		err := e.step(actx, a, s, attempt, out)
		if err == nil && actx.Err() != nil {
			err = context.Cause(actx)
		}
		if cause := context.Cause(actx); err != nil && actx.Err() != nil && ctx.Err() == nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", cause, err) // the step's timeout stopped it
		}
		cancel()
		now := e.opts.Now().UTC()
		switch {
		case err == nil:
			e.update(a, s.Name, func(st *StepState) { st.State, st.Finished = StepSucceeded, now })
			return nil
		case ctx.Err() != nil:
			why := "interrupted: opshub is stopping"
			var c errCancelled
			if errors.As(context.Cause(ctx), &c) {
				why = c.why
			}
			out.Printf("stopped: %s", why)
			e.update(a, s.Name, func(st *StepState) { st.State, st.Finished, st.Message = StepFailed, now, why })
			return errors.New(why)
		case attempt > s.Retries:
			out.Printf("failed: %v", err)
			e.update(a, s.Name, func(st *StepState) {
				st.State, st.Finished, st.Message = StepFailed, now, err.Error()
				if attempt > 1 {
					st.Message = fmt.Sprintf("%d attempts failed; the last: %v", attempt, err)
				}
			})
			return err
		}
		out.Printf("attempt %d failed: %v; retrying in %s", attempt, err, delay)
		e.update(a, s.Name, func(st *StepState) { st.State, st.Message = StepRetrying, err.Error() })
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, e.opts.MaxRetryDelay)
	}
}

// step runs one attempt of a step by its kind.
func (e *Engine) step(ctx context.Context, a *active, s Step, attempt int, out *lineBuffer) error {
	switch {
	case s.Run != nil:
		return e.runCommand(ctx, a, s, attempt, out)
	case s.Job != nil:
		return e.runJob(ctx, a, s, out)
	case s.Deploy != nil:
		return e.deploy(ctx, a, s, out)
	case s.Promote != nil:
		return e.promote(ctx, a, s, out)
	case s.Backup != nil && e.opts.Snapshots != nil:
		return e.snapshot(ctx, a, s, attempt, out)
	case s.Backup != nil:
		return e.backup(ctx, a, s, out)
	case s.HTTP != nil:
		return e.call(ctx, s, out)
	case s.Approval != nil:
		return e.approval(ctx, a, s, out)
	case s.Rollback != nil:
		return e.rollbackStep(ctx, a, s, out)
	}
	return fmt.Errorf("step %q has no kind", s.Name)
}

// mergeEnv returns the step's env under the kind's own (which wins).
func mergeEnv(step, own map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range step {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// lineBuffer keeps the last max lines written to it.
type lineBuffer struct {
	mu      sync.Mutex
	max     int
	buf     []string
	partial []byte
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data := append(b.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		b.addLocked(strings.TrimSuffix(string(data[:i]), "\r"))
		data = data[i+1:]
	}
	b.partial = append([]byte(nil), data...)
	if len(b.partial) > 64<<10 {
		b.addLocked(string(b.partial))
		b.partial = nil
	}
	return len(p), nil
}

func (b *lineBuffer) addLocked(line string) {
	b.buf = append(b.buf, line)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max:]...)
	}
}

// Printf adds a line of opshub's own.
func (b *lineBuffer) Printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.addLocked("[opshub] " + fmt.Sprintf(format, args...))
}

func (b *lineBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.buf...)
	if len(b.partial) > 0 {
		out = append(out, string(b.partial))
	}
	return out
}
