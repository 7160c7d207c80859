package jobs

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// fakeClock is a clock the test moves; After fires once the time passes.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// succeeding is a Runner whose attempts exit 0 at once.
type succeeding struct{}

func (succeeding) RunJob(ctx context.Context, project, name, instance string, env map[string]string, started func(string)) (model.Exit, error) {
	return model.Exit{Code: 0, Reason: "Completed"}, nil
}

func waitRuns(t *testing.T, e *Engine, n int) []Run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runs, err := e.Runs("demo", "report")
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, r := range runs {
			if r.State != StateRunning {
				done++
			}
		}
		if done == n && len(runs) == n {
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runs (%d ended), want %d ended", len(runs), done, n)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not waiting for an outcome
	}
}

// TestScheduleAcrossARestart runs the engine on an injected clock: opshub
// was down from 07:00 to 10:10 over six half-hourly times, so one run is
// made up (for 10:00) and no more; the next starts at 10:30; a restart
// at 10:40 makes up nothing, since 10:30 was handled.
func TestScheduleAcrossARestart(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec := Spec{Project: "demo", Name: "report", Schedule: "*/30 * * * *", TimeZone: "Europe/Berlin"}
	if err := store.NewBucket[time.Time](db, "jobs.schedule").Put("demo/report", time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 12, 7, 10, 10, 0, 0, time.UTC)}

	start := func() (engine *Engine, stop func()) {
		e, err := New([]Spec{spec}, Options{Runner: succeeding{}, DB: db, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = e.Run(ctx); close(done) }()
		return e, func() { cancel(); <-done }
	}
	engine, stop := start()
	runs := waitRuns(t, engine, 1)
	if runs[0].Trigger != TriggerSchedule || !runs[0].Started.Equal(clock.Now()) {
		t.Fatalf("made-up run %+v, want one scheduled run now", runs[0])
	}
	clock.waitWaiting(t)
	clock.set(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC))
	runs = waitRuns(t, engine, 2)
	if !runs[0].Started.Equal(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)) {
		t.Errorf("second run started %s, want 10:30", runs[0].Started)
	}
	stop()
	clock.mu.Lock()
	clock.waiters = nil // the stopped engine's
	clock.mu.Unlock()

	clock.set(time.Date(2026, 12, 7, 10, 40, 0, 0, time.UTC))
	engine, stop = start()
	defer stop()
	clock.waitWaiting(t) // the schedule has been read and is waiting for 11:00
	clock.set(time.Date(2026, 12, 7, 10, 59, 59, 0, time.UTC))
	if runs := waitRuns(t, engine, 2); len(runs) != 2 {
		t.Fatalf("%d runs after a restart between two times, want still 2", len(runs))
	}
	clock.waitWaiting(t)
	clock.set(time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC))
	waitRuns(t, engine, 3)
}

// waitWaiting waits until something waits on the clock.
func (c *fakeClock) waitWaiting(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		n := len(c.waiters)
		c.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing waits on the clock")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
