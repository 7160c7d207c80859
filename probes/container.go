package probes

import (
	"context"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// Run is one run of a container: what the kubelet calls a new container
// ID. Probe state (results, holds) starts over with each run.
type Run struct {
	// ID tells runs apart; it must change with every run (a restart count).
	ID int64
	// StartedAt is when the process started; initial delays count from it.
	StartedAt time.Time
	// Target is where the probes go.
	Target Target
}

// Container probes one container with its startup, readiness and liveness
// probes, one worker each, as the kubelet's workers probe a container of a
// pod. It outlives the container's runs: the owner says when a run starts
// (RunStarted) and ends (RunEnded), and the workers notice on their next
// tick, as the kubelet's notice a new container ID.
//
// Lifecycle: Manager.NewContainer has no side effects; Run runs the
// workers until ctx ends and returns once they have, removing the
// container's metric series. The other methods may be called at any time.
type Container struct {
	m        *Manager
	ref      model.Ref
	set      Set
	onChange func(Change)
	workers  []*worker

	mu      sync.Mutex
	run     Run
	runID   int64 // -1: no run yet
	running bool
	started bool // the startup probe passed in this run, or there is none
}

// Has reports whether the container has a probe of type t.
func (c *Container) Has(t Type) bool { return c.set.Get(t) != nil }

// Run runs the workers until ctx ends.
func (c *Container) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range c.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	for _, w := range c.workers {
		c.m.removeSeries(w.series)
	}
}

// RunStarted tells the workers that a new run of the container is up. The
// readiness worker probes at once rather than at its next tick, as the
// kubelet triggers a readiness probe when it first sees a container.
//
// The probes' effective results go back to their initial values at once
// (readiness failed, liveness passing, startup unknown), so that nothing
// acts on a verdict about the previous run; the workers then notice the new
// run at their next tick.
func (c *Container) RunStarted(r Run) {
	c.mu.Lock()
	c.run, c.runID, c.running = r, r.ID, true
	c.started = !c.Has(Startup)
	c.mu.Unlock()
	now := c.m.clock.Now()
	for _, w := range c.workers {
		w.tracker.SetResult(w.initial, now)
		if w.typ == Readiness {
			w.poke()
		}
	}
}

// RunEnded tells the workers that the current run is over; they stop
// probing until the next one. A container that does not run is not ready,
// as the kubelet sets the readiness of a stopped container to failure.
func (c *Container) RunEnded() {
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	for _, w := range c.workers {
		if w.typ == Readiness {
			w.tracker.SetResult(Failure, c.m.clock.Now())
		}
	}
}

// Started reports whether the current run is past startup: its startup
// probe passed, or it has none. It is the kubelet's container "started".
func (c *Container) Started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running && c.started
}

// Result is the effective result of the probe of type t; Unknown when the
// container has none.
func (c *Container) Result(t Type) Result {
	for _, w := range c.workers {
		if w.typ == t {
			return w.tracker.Result()
		}
	}
	return Unknown
}

// Status lists the probes' statuses (startup, readiness, liveness), with
// their run histories when history is set.
func (c *Container) Status(history bool) []model.ProbeStatus {
	out := make([]model.ProbeStatus, 0, len(c.workers))
	for _, w := range c.workers {
		out = append(out, w.tracker.Status(history))
	}
	return out
}

// state is what a worker needs to know about the container at a tick.
type state struct {
	run     Run
	runID   int64
	running bool
	started bool
}

func (c *Container) state() state {
	c.mu.Lock()
	defer c.mu.Unlock()
	return state{run: c.run, runID: c.runID, running: c.running, started: c.started}
}

// currentRun reports whether id is still the current, running run.
func (c *Container) currentRun(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running && c.runID == id
}

// setStarted records the startup verdict of run id.
func (c *Container) setStarted(id int64, started bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runID == id {
		c.started = started
	}
}
