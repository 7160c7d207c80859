package flow

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/store"
)

// keptSnapshots records the snapshots a platform holds.
type keptSnapshots struct {
	mu   sync.Mutex
	held []string
}

func (k *keptSnapshots) SnapshotVolume(_ context.Context, req SnapshotRequest, out io.Writer) ([]string, error) {
	name := fmt.Sprintf("%s/%s-%s-%d-%s", req.Project, req.Run, req.Step, req.Attempt, req.Volume)
	fmt.Fprintf(out, "took %s\n", name)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held = append(k.held, name)
	return []string{name}, nil
}

func (k *keptSnapshots) DeleteSnapshots(_ context.Context, names []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held = slices.DeleteFunc(k.held, func(n string) bool { return slices.Contains(names, n) })
	return nil
}

func (k *keptSnapshots) list() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.held)
}

// TestSnapshotsAreKeptWithTheirRun: a backup step taken as snapshots
// records them on the step, and they are deleted when their run is pruned,
// as archives are.
func TestSnapshotsAreKeptWithTheirRun(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snaps := &keptSnapshots{}
	spec := Spec{Name: "nightly", Steps: []Step{{Name: "backup", Backup: &BackupStep{Project: "shop", Service: "db", Volume: "data", VolumeSnapshotClass: "fast"}}}}
	e, err := New([]Spec{spec}, Options{DB: db, Snapshots: snaps, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-e.started

	var runs []Run
	for range 3 {
		r, err := e.Start("nightly", Trigger{Kind: TriggerAPI}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r, err = e.Wait(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	for _, r := range runs {
		if st := r.Step("backup"); r.State != RunSucceeded || len(st.Snapshots) != 1 {
			t.Fatalf("run %+v, want succeeded with its snapshot", r)
		}
	}
	want := []string{runs[1].Steps[0].Snapshots[0], runs[2].Steps[0].Snapshots[0]}
	sinktest.Eventually(t, 5*time.Second, "the pruned run's snapshot deleted", func() error {
		if got := snaps.list(); !slices.Equal(got, want) {
			return fmt.Errorf("snapshots held %v, want %v (the two runs kept)", got, want)
		}
		return nil
	})
	if _, err := e.Get(runs[0].ID); err == nil {
		t.Errorf("run %s is still kept beside two newer ones", runs[0].ID)
	}
}
