package jobs

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// succeeding is a Runner whose attempts exit 0 at once.
type succeeding struct{}

func (succeeding) RunJob(ctx context.Context, project, name, instance string, env map[string]string, started func(string)) (model.Exit, error) {
	return model.Exit{Code: 0, Reason: "Completed"}, nil
}

func waitRuns(t *testing.T, e *Engine, n int) []Run {
	t.Helper()
	var runs []Run
	sinktest.Eventually(t, 10*time.Second, fmt.Sprintf("%d ended runs", n), func() error {
		var err error
		if runs, err = e.Runs("demo", "report"); err != nil {
			return err
		}
		done := 0
		for _, r := range runs {
			if r.State != StateRunning {
				done++
			}
		}
		if done != n || len(runs) != n {
			return fmt.Errorf("%d runs (%d ended)", len(runs), done)
		}
		return nil
	})
	return runs
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
	clock := sinktest.NewFakeClock(time.Date(2026, 12, 7, 10, 10, 0, 0, time.UTC))

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
	waitWaiting(t, clock)
	clock.Set(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC))
	runs = waitRuns(t, engine, 2)
	if !runs[0].Started.Equal(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)) {
		t.Errorf("second run started %s, want 10:30", runs[0].Started)
	}
	stop()

	// The engine starts again at 10:40 (a new process: a new clock,
	// without the stopped engine's wait).
	clock = sinktest.NewFakeClock(time.Date(2026, 12, 7, 10, 40, 0, 0, time.UTC))
	engine, stop = start()
	defer stop()
	waitWaiting(t, clock) // the schedule has been read and is waiting for 11:00
	clock.Set(time.Date(2026, 12, 7, 10, 59, 59, 0, time.UTC))
	if runs := waitRuns(t, engine, 2); len(runs) != 2 {
		t.Fatalf("%d runs after a restart between two times, want still 2", len(runs))
	}
	waitWaiting(t, clock)
	clock.Set(time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC))
	waitRuns(t, engine, 3)
}

// waitWaiting waits until something waits on the clock.
func waitWaiting(t *testing.T, c *sinktest.FakeClock) {
	t.Helper()
	sinktest.WaitFor(t, 10*time.Second, "a wait on the clock", func() bool { return c.Waiting() > 0 })
}

// TestRunningOnlyWhileRun: an engine takes runs only between the start
// and the end of Run, and says so through Running (opshub's readiness).
func TestRunningOnlyWhileRun(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New([]Spec{{Project: "demo", Name: "report"}}, Options{Runner: succeeding{}, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if e.Running() {
		t.Error("Running before Run")
	}
	if _, err := e.Start("demo", "report", TriggerAPI, nil); err == nil {
		t.Error("Start before Run was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	sinktest.WaitFor(t, 10*time.Second, "the engine to run", e.Running)
	if _, err := e.Start("demo", "report", TriggerAPI, nil); err != nil {
		t.Errorf("Start while running: %v", err)
	}
	cancel()
	<-done
	if e.Running() {
		t.Error("Running after Run ended")
	}
}
