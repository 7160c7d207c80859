package local

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestCrashLoopBackoff drives a crash loop with a fake clock: the first
// restart is immediate, then the instance waits in Crashing for 10 s, 20 s,
// 40 s, measured from each exit, and the events tell the story in order.
func TestCrashLoopBackoff(t *testing.T) {
	clock := sinktest.NewFakeClock(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	h := newHarness(t, Options{Clock: clock}, Workload{
		Project: "demo", Name: "crasher", Command: []string{"/bin/sh", "-c", "echo boom >&2; exit 1"}, Replicas: 1,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := h.r.Subscribe(ctx)
	h.run()

	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		in := h.waitInstances("demo", "crasher", "crashing with "+want.String(), 10*time.Second, func(ins []model.Instance) bool {
			return len(ins) == 1 && ins[0].Status == model.StatusCrashing && ins[0].Restarts == i+1
		})[0]
		if in.Backoff != want.String() {
			t.Fatalf("round %d: backoff %q, want %s", i, in.Backoff, want)
		}
		if !in.NextRestart.Equal(in.LastExit.Time.Add(want)) {
			t.Fatalf("round %d: next restart %s, want %s after the exit at %s", i, in.NextRestart, want, in.LastExit.Time)
		}
		if got := len(in.RecentExits); got != i+2 {
			t.Fatalf("round %d: %d recent exits", i, got)
		}
		sinktest.WaitFor(t, 5*time.Second, "the back-off wait", func() bool { return clock.Waiting() == 1 })
		clock.Advance(want - time.Millisecond)
		if clock.Waiting() != 1 {
			t.Fatalf("round %d: restarted before the back-off was over", i)
		}
		clock.Advance(time.Millisecond)
	}
	h.waitInstances("demo", "crasher", "fourth restart", 10*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 1 && ins[0].Restarts == 4
	})
	h.stop()

	var kinds []string
	for ev := range drain(events) {
		if ev.Ref.Instance == "" || ev.Ref.Container != "crasher" {
			t.Errorf("event ref %+v", ev.Ref)
		}
		kinds = append(kinds, string(ev.Kind))
		if ev.Kind == model.InstanceBackoff && ev.Backoff == 0 {
			t.Errorf("backoff event without the wait")
		}
		if (ev.Kind == model.InstanceExited || ev.Kind == model.InstanceRestarted) && (ev.Exit == nil || ev.Exit.Code != 1) {
			t.Errorf("%s event with exit %+v", ev.Kind, ev.Exit)
		}
	}
	got := strings.Join(kinds, " ")
	want := "started ready not-ready exited restarted started ready not-ready exited backoff restarted started"
	if !strings.HasPrefix(got, want) {
		t.Errorf("events\n got %s\nwant %s …", got, want)
	}
}

// drain collects what a subscription holds now.
func drain(ch <-chan model.InstanceEvent) func(func(model.InstanceEvent) bool) {
	return func(yield func(model.InstanceEvent) bool) {
		for {
			select {
			case ev, ok := <-ch:
				if !ok || !yield(ev) {
					return
				}
			default:
				return
			}
		}
	}
}

// TestGracefulStopWithinGrace: a process that handles SIGTERM and exits is
// stopped well within its grace period, and the stop is reported.
func TestGracefulStopWithinGrace(t *testing.T) {
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "polite",
		Command:     []string{"/bin/sh", "-c", `trap 'echo bye; exit 0' TERM; sleep 1000 & wait`},
		Replicas:    1,
		GracePeriod: 20 * time.Second,
	})
	in := h.waitInstances("demo", "polite", "running", 10*time.Second, allStatus(1, model.StatusRunning))[0]
	sinktest.WaitFor(t, 5*time.Second, "the shell and its sleep", func() bool { return len(groupMembers(t, in.PID)) == 2 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := h.r.Subscribe(ctx)

	if took := h.stop(); took > 5*time.Second {
		t.Errorf("stop took %s; the process exits on SIGTERM", took)
	}
	if members := groupMembers(t, in.PID); len(members) != 0 {
		t.Errorf("process group still has %v", members)
	}
	in = h.instances("demo", "polite")[0]
	if in.Status != model.StatusTerminated || in.LastExit == nil || in.LastExit.Reason != "Completed" {
		t.Errorf("after stop: %s, last exit %+v", in.Status, in.LastExit)
	}
	var kinds []string
	for ev := range drain(events) {
		kinds = append(kinds, string(ev.Kind)+":"+string(ev.Status))
	}
	if got := strings.Join(kinds, " "); got != "not-ready:Terminating stopped:Terminated" {
		t.Errorf("events %s", got)
	}
}

// TestGracefulStopKillsAfterGrace: a process that ignores SIGTERM is killed
// when the grace period is over, together with its child.
func TestGracefulStopKillsAfterGrace(t *testing.T) {
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "stubborn",
		Command:     []string{"/bin/sh", "-c", `trap '' TERM; sh -c 'sleep 1000 & wait' & wait`},
		Replicas:    1,
		GracePeriod: 300 * time.Millisecond,
	})
	in := h.waitInstances("demo", "stubborn", "running", 10*time.Second, allStatus(1, model.StatusRunning))[0]
	var members []int
	sinktest.WaitFor(t, 5*time.Second, "shell, child shell and grandchild sleep", func() bool {
		members = groupMembers(t, in.PID)
		return len(members) == 3
	})
	took := h.stop()
	if took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("stop took %s, want a little over the 300ms grace", took)
	}
	for _, pid := range members {
		if alive(pid) {
			t.Errorf("pid %d survived the stop", pid)
		}
	}
	in = h.instances("demo", "stubborn")[0]
	if in.Status != model.StatusTerminated || in.LastExit == nil || in.LastExit.Signal != "SIGKILL" {
		t.Errorf("after stop: %s, last exit %+v", in.Status, in.LastExit)
	}
}

// TestLeaderExitKillsItsGroup: when the leader exits, what is left of its
// group goes too, as a container's processes go with its init, and the exit
// is recorded even though a child held the output pipe open.
func TestLeaderExitKillsItsGroup(t *testing.T) {
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "leaver",
		Command:       []string{"/bin/sh", "-c", `sleep 1000 & echo $! > "$OPSHUB_VOLUME_OUT/child"; exit 0`},
		Volumes:       []Volume{{Name: "out", Path: t.TempDir()}},
		Replicas:      1,
		RestartPolicy: RestartNever,
	})
	in := h.waitInstances("demo", "leaver", "terminated", 10*time.Second, allStatus(1, model.StatusTerminated))[0]
	if in.LastExit == nil || in.LastExit.Reason != "Completed" {
		t.Fatalf("last exit %+v", in.LastExit)
	}
	vol := h.r.services[0].w.Volumes[0].Path
	child := mustAtoi(t, strings.TrimSpace(read(t, vol+"/child")))
	sinktest.WaitFor(t, 5*time.Second, "the child to be killed", func() bool { return !alive(child) })
}

// TestScale: scaling up adds instances at the lowest free index; scaling
// down stops the highest indexes and removes them once stopped.
func TestScale(t *testing.T) {
	h := start(t, Options{}, Workload{Project: "demo", Name: "web", Command: []string{"/bin/sleep", "1000"}, Replicas: 1})
	ctx := context.Background()
	first := h.waitInstances("demo", "web", "one running", 10*time.Second, allStatus(1, model.StatusRunning))[0]

	if err := h.r.Scale(ctx, "demo", "web", 3); err != nil {
		t.Fatal(err)
	}
	ins := h.waitInstances("demo", "web", "three running", 10*time.Second, allStatus(3, model.StatusRunning))
	stopped := []int{ins[1].PID, ins[2].PID}
	if h.service("demo", "web").Replicas != 3 {
		t.Errorf("replicas not updated")
	}

	if err := h.r.Scale(ctx, "demo", "web", 1); err != nil {
		t.Fatal(err)
	}
	ins = h.waitInstances("demo", "web", "one left", 10*time.Second, allStatus(1, model.StatusRunning))
	if ins[0].UID != first.UID || ins[0].PID != first.PID {
		t.Errorf("scale-down stopped the wrong instance: %+v", ins[0])
	}
	for _, pid := range stopped {
		if alive(pid) {
			t.Errorf("pid %d of a removed instance still runs", pid)
		}
	}
	if got := h.metricValue("opshub_local_instances", map[string]string{"project": "demo", "service": "web", "status": "Running"}); got != 1 {
		t.Errorf("running gauge %v, want 1", got)
	}

	if err := h.r.Scale(ctx, "demo", "web", 2); err != nil {
		t.Fatal(err)
	}
	ins = h.waitInstances("demo", "web", "two running", 10*time.Second, allStatus(2, model.StatusRunning))
	if !strings.HasSuffix(ins[1].Name, "-1") || slices.Contains([]string{first.UID}, ins[1].UID) {
		t.Errorf("new instance %s %s, want index 1 with a new uid", ins[1].Name, ins[1].UID)
	}
	if err := h.r.Scale(ctx, "demo", "web", -1); err == nil {
		t.Error("negative replicas accepted")
	}
}

// TestLimitsNotEnforcedAreReported: without a usable cgroup v2 hierarchy the
// instance still runs and says why its limits are not enforced.
func TestLimitsNotEnforcedAreReported(t *testing.T) {
	h := newHarness(t, Options{}, Workload{Project: "demo", Name: "capped", Command: []string{"/bin/sleep", "1000"}, Replicas: 1, CPUMilli: 500, MemoryBytes: 256 << 20})
	h.r.cgroupPaths = cgroupPaths{MountInfo: "/nonexistent/mountinfo", Self: "/nonexistent/cgroup"}
	h.run()
	in := h.waitInstances("demo", "capped", "running", 10*time.Second, allStatus(1, model.StatusRunning))[0]
	if in.Limits == nil || in.Limits.Enforced || in.Limits.CPU != "500m" || in.Limits.Memory != "256Mi" || !strings.Contains(in.Limits.Reason, "mountinfo") {
		t.Errorf("limits %+v", in.Limits)
	}
}
