package probes

import (
	"context"
	"time"

	"github.com/opshub/opshub/internal/clock"
)

// worker runs one probe of one container, with the kubelet's worker
// semantics (pkg/kubelet/prober/worker.go):
//
//   - it ticks every period for the container's whole life, not per run;
//     a worker born while its Manager is younger than one period first
//     waits a random part of the period; ticks are aligned to 100 ms
//     (tickGrain);
//   - at a tick it first notices a new run: the effective result goes back
//     to the initial value and any hold ends;
//   - it skips the tick while on hold, while the run is not running,
//     during the initial delay (counted from the run's start), and by the
//     startup gate: the startup probe runs only until startup succeeded,
//     the others only after;
//   - each run's result (a warning counts as a success) extends or starts
//     a streak; the effective result changes only when a failure streak
//     reaches failureThreshold or a success streak successThreshold;
//   - after a liveness failure verdict, or any startup verdict, it holds
//     until the next run and its streak starts over: the container is
//     being restarted, or startup is decided.
type worker struct {
	c       *Container
	typ     Type
	spec    *Spec
	handler Handler
	tracker *Tracker
	initial Result
	series  seriesKey // its series on /metrics
	trigger chan struct{}

	// Owned by the worker's goroutine.
	seenRun    int64 // the run the worker last saw; -1 none
	onHold     bool
	lastResult Result
	resultRun  int
	failing    bool // the last verdict from probing was a failure
}

// poke asks for a run now instead of at the next tick.
func (w *worker) poke() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// run ticks until ctx ends.
func (w *worker) run(ctx context.Context) {
	clock := w.c.m.clock
	period := w.spec.Period
	if age := clock.Now().Sub(w.c.m.start); age < period {
		jitter := time.Duration(w.c.m.jitter() * float64(period))
		select {
		case <-ctx.Done():
			return
		case <-clock.After(grid(clock.Now().Add(jitter)).Sub(clock.Now())):
		}
	}
	next := grid(clock.Now())
	wait := w.waiter(clock)
	for {
		select {
		case <-w.trigger: // this run answers a pending request too
		default:
		}
		w.doProbe(ctx)
		now := clock.Now()
		if next = next.Add(period); !next.After(now) {
			next = grid(now) // a run overran the tick: go again at once, as a ticker does
		}
		select {
		case <-ctx.Done():
			return
		case <-w.trigger:
			// A manual run restarts the period from now, as the kubelet
			// resets its ticker.
			next = grid(clock.Now())
		case <-wait(next.Sub(now)):
		}
	}
}

// waiter returns the worker's wait: real time reuses one timer for every
// tick rather than making one a tick; another clock's After is used as is.
func (w *worker) waiter(c clock.Clock) func(time.Duration) <-chan time.Time {
	if _, ok := c.(clock.Real); !ok {
		return c.After
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return func(d time.Duration) <-chan time.Time {
		t.Reset(d) // since Go 1.23 a Reset timer never delivers a stale tick
		return t.C
	}
}

// tickGrain aligns ticks: they fall on multiples of 100 ms of the clock, so
// that the probes of many containers that are due close together wake the
// process once rather than once each. It is the timer slack of probing:
// periods stay exact, a schedule's phase moves by less than 100 ms, and
// first-run jitter still spreads probes over the period in 100 ms steps.
// With a thousand probes a second it takes a third of the prober's CPU
// away (docs/benchmarks.md).
const tickGrain = 100 * time.Millisecond

// grid rounds t down to the tick grain.
func grid(t time.Time) time.Time { return t.Truncate(tickGrain) }

// doProbe is one tick.
func (w *worker) doProbe(ctx context.Context) {
	st := w.c.state()
	if st.runID < 0 {
		return // no run yet
	}
	now := w.c.m.clock.Now()
	if st.runID != w.seenRun {
		w.seenRun, w.onHold = st.runID, false
		if w.tracker.SetResult(w.initial, now) {
			w.notify(Change{Type: w.typ, Result: w.initial, Run: st.runID})
		}
	}
	if w.onHold || !st.running {
		return
	}
	if now.Sub(st.run.StartedAt) < w.spec.InitialDelay {
		return
	}
	if st.started != (w.typ != Startup) {
		return // startup is decided, or other probes wait for it
	}

	began := time.Now()
	o := w.handler.Probe(ctx, st.run.Target, w.spec.Timeout)
	o.Latency = time.Since(began)
	o.Time = now
	if ctx.Err() != nil || !w.c.currentRun(st.runID) {
		return // shutting down, or the run ended meanwhile: the result means nothing
	}
	w.tracker.Record(o)
	w.c.m.observe(w.series, o)
	if o.Result == Failure {
		w.c.m.log.Debug("probe run failed", w.c.logKeys(w.typ, "message", UnhealthyMessage(w.typ, o))...)
	}

	result := o.Result.passed()
	if result == w.lastResult {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = result, 1
	}
	if (result == Failure && w.resultRun < w.spec.FailureThreshold) ||
		(result == Success && w.resultRun < w.spec.SuccessThreshold) {
		return // below the threshold: the effective result stands
	}

	if w.typ == Startup {
		w.c.setStarted(st.runID, result == Success)
	}
	changed := w.tracker.SetResult(result, now)
	recovered := result == Success && w.failing
	w.failing = result == Failure
	if changed || recovered {
		w.notify(Change{Type: w.typ, Result: result, Run: st.runID, Probed: true, Recovered: recovered, Outcome: o})
	}
	if (w.typ == Liveness && result == Failure) || w.typ == Startup {
		w.onHold, w.resultRun = true, 0
	}
}

// notify hands a verdict to the container's owner and logs it.
func (w *worker) notify(ch Change) {
	ch.Status = w.tracker.Status(false)
	if ch.Probed {
		switch {
		case ch.Result == Failure:
			w.c.m.log.Info("probe failing", w.c.logKeys(w.typ, "consecutive", ch.Status.Consecutive, "message", ch.Message())...)
		case ch.Recovered:
			w.c.m.log.Info("probe recovered", w.c.logKeys(w.typ)...)
		}
	}
	w.c.onChange(ch)
}

// logKeys are the keys of a log line about one probe, then more.
func (c *Container) logKeys(t Type, more ...any) []any {
	return append([]any{"project", c.ref.Project, "service", c.ref.Service, "instance", c.ref.Instance, "probe", string(t)}, more...)
}
