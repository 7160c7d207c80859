package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// watchInstances records, until stop is called, the most instances with a
// process at once (with countLeaving, Terminating ones too) and the fewest
// ready ones, and whether a surge instance was ever shown.
func watchInstances(h *harness, want int, countLeaving bool) (stop func() (most, fewestReady int, sawSurge bool)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	most, fewest, surge := 0, want, false
	wg.Go(func() {
		for ctx.Err() == nil {
			s, _ := h.r.Service(ctx, "demo", "web")
			procs, ready := 0, 0
			for _, in := range s.Instances {
				if in.PID != 0 && (in.Status != model.StatusTerminating || countLeaving) {
					procs++
				}
				if in.Ready {
					ready++
				}
				surge = surge || in.Surge
			}
			most, fewest = max(most, procs), min(fewest, ready)
			time.Sleep(2 * time.Millisecond)
		}
	})
	return func() (int, int, bool) { cancel(); wg.Wait(); return most, fewest, surge }
}

func rolloutDone(h *harness) bool {
	st, err := h.r.RolloutProgress(context.Background(), "demo", "web")
	return err == nil && st.Done
}

// TestRollingUpdateKeepsEveryInstanceAvailable: with maxSurge 1 and
// maxUnavailable 0, three instances are replaced one at a time: never
// fewer than three ready, never more than four processes, every new
// instance on the new spec, and requests through the proxy all answered.
func TestRollingUpdateKeepsEveryInstanceAvailable(t *testing.T) {
	port := sinktest.FreePort(t)
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "web", Command: helperCommand(),
		Env: map[string]string{helperEnv: "http", "V": "1"}, Replicas: 3, Port: port,
		GracePeriod: 5 * time.Second,
		Strategy:    Strategy{Type: RollingUpdate, MaxSurge: 1},
	})
	h.waitInstances("demo", "web", "three ready instances", 15*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 3 && ins[0].Ready && ins[1].Ready && ins[2].Ready
	})
	before := h.instances("demo", "web")
	stop := watchInstances(h, 3, false)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"

	spec, err := h.r.Template(context.Background(), "demo", "web")
	if err != nil {
		t.Fatal(err)
	}
	spec.Env["V"] = "2"
	if err := h.r.SetTemplate(context.Background(), "demo", "web", spec); err != nil {
		t.Fatal(err)
	}
	failed := 0
	sinktest.WaitFor(t, 30*time.Second, "the rollout to finish", func() bool {
		if code, _, _ := get(t, "GET", url, ""); code != 200 {
			failed++
		}
		return rolloutDone(h)
	})
	most, fewestReady, sawSurge := stop()
	if failed > 0 {
		t.Errorf("%d requests failed during the rollout", failed)
	}
	if most > 4 || fewestReady < 3 {
		t.Errorf("at most %d instances not terminating and at least %d ready during the rollout, want ≤ 4 and ≥ 3", most, fewestReady)
	}
	if !sawSurge {
		t.Error("the fourth instance was never marked surge")
	}
	after := h.instances("demo", "web")
	if len(after) != 3 {
		t.Fatalf("%d instances after the rollout", len(after))
	}
	oldHash := strings.Split(before[0].Name, "-")[1]
	for _, in := range after {
		if strings.Contains(in.Name, "-"+oldHash+"-") || !in.Ready || in.Surge {
			t.Errorf("instance %s after the rollout (ready %v, surge %v), want a ready instance of the new spec", in.Name, in.Ready, in.Surge)
		}
	}
}

// TestRecreateNeverRunsTwoInstances: a workload with a volume stops its old
// instance before it starts the new one; requests wait in the proxy
// meanwhile rather than fail.
func TestRecreateNeverRunsTwoInstances(t *testing.T) {
	port := sinktest.FreePort(t)
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "web", Command: helperCommand(),
		Env: map[string]string{helperEnv: "http", "V": "1"}, Replicas: 1, Port: port,
		GracePeriod: 5 * time.Second,
		Volumes:     []Volume{{Name: "data", Path: t.TempDir(), Capacity: 1 << 20}},
	})
	h.waitInstances("demo", "web", "a ready instance", 15*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 1 && ins[0].Ready
	})
	stop := watchInstances(h, 1, true)
	spec, _ := h.r.Template(context.Background(), "demo", "web")
	spec.Version = "2"
	if err := h.r.SetTemplate(context.Background(), "demo", "web", spec); err != nil {
		t.Fatal(err)
	}
	failed := 0
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	sinktest.WaitFor(t, 30*time.Second, "the rollout to finish", func() bool {
		if code, _, _ := get(t, "GET", url, ""); code != 200 {
			failed++
		}
		return rolloutDone(h)
	})
	most, _, _ := stop()
	if most != 1 {
		t.Errorf("%d instance processes at once on a volume, want 1", most)
	}
	if failed > 0 {
		t.Errorf("%d requests failed during the rollout", failed)
	}
}

// TestCheckTemplateRefusesWhatCannotRun names the field at fault.
func TestCheckTemplateRefusesWhatCannotRun(t *testing.T) {
	h := newHarness(t, Options{}, Workload{Project: "demo", Name: "web", Command: []string{"/bin/true"}, Replicas: 1})
	plain := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec  model.RunSpec
		field string
	}{
		{model.RunSpec{Command: []string{"/no/such/program"}}, "command"},
		{model.RunSpec{Command: []string{"no-such-program-in-path"}}, "command"},
		{model.RunSpec{Command: []string{plain}}, "command"},
		{model.RunSpec{Command: []string{"/bin/true"}, Image: "web:2"}, "image"},
		{model.RunSpec{Command: []string{"/bin/true"}, WorkingDir: "/no/such/dir"}, "workingDir"},
		{model.RunSpec{Command: []string{"/bin/true"}, Env: map[string]string{"1X": "y"}}, "env"},
	} {
		err := h.r.CheckTemplate(context.Background(), "demo", "web", tc.spec)
		var se *platform.SpecError
		if !errors.As(err, &se) || se.Field != tc.field {
			t.Errorf("CheckTemplate(%+v) = %v, want a SpecError on %s", tc.spec, err, tc.field)
		}
	}
	if err := h.r.CheckTemplate(context.Background(), "demo", "web", model.RunSpec{Command: []string{"true"}}); err != nil {
		t.Errorf("a program in PATH is refused: %v", err)
	}
	if err := h.r.CheckTemplate(context.Background(), "demo", "nope", model.RunSpec{Command: []string{"true"}}); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("unknown service: %v", err)
	}
}
