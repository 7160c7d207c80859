package flow

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/opshub/opshub/store"
)

// TestStartBeforeRunWaitsForIt: a run asked for in the moment between the
// API answering and the engine's Run starting (a busy machine at start-up)
// starts once Run has started, instead of being refused.
func TestStartBeforeRunWaitsForIt(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	spec := Spec{Name: "notify", Steps: []Step{{Name: "wait", Approval: &ApprovalStep{}}}}
	e, err := New([]Spec{spec}, Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		run Run
		err error
	}
	started := make(chan result, 1)
	go func() {
		r, err := e.Start("notify", Trigger{Kind: TriggerAPI}, nil)
		started <- result{r, err}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	res := <-started
	if res.err != nil || res.run.State != RunRunning {
		t.Fatalf("Start before Run: %+v, %v; want the run started", res.run, res.err)
	}
}
