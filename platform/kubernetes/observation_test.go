package kubernetes

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/opshub/opshub/model"
)

func TestInstanceEventsFromStatusChanges(t *testing.T) {
	svc := model.Ref{Project: "demo", Service: "web"}
	runningReady := podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0), Ready: true}, ready)
	crashed := func(restarts int32, code int32, reason string, at time.Time) *corev1.Pod {
		return podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State: crashLoop("back-off 20s restarting failed container"), RestartCount: restarts,
			LastTerminationState: corev1.ContainerState{Terminated: terminated(code, reason, at)}})
	}
	tests := []struct {
		name    string
		before  *corev1.Pod // nil: a pod not seen before
		after   *corev1.Pod
		service model.Ref
		want    []model.InstanceEventKind
	}{
		{"new pod starts and becomes ready", nil, runningReady, svc,
			[]model.InstanceEventKind{model.InstanceStarted, model.InstanceReady}},
		{"pending pod says nothing", nil, podWith(corev1.PodPending, nil), svc, nil},
		{"unchanged pod says nothing", runningReady, runningReady, svc, nil},
		{"crash: exit, restart counted, back-off", runningReady, crashed(1, 1, "Error", t0.Add(time.Minute)), svc,
			[]model.InstanceEventKind{model.InstanceExited, model.InstanceRestarted, model.InstanceBackoff, model.InstanceNotReady}},
		{"OOM kill adds oom-killed", runningReady, crashed(1, 137, "OOMKilled", t0.Add(time.Minute)), svc,
			[]model.InstanceEventKind{model.InstanceExited, model.InstanceOOMKilled, model.InstanceRestarted, model.InstanceBackoff, model.InstanceNotReady}},
		{"next crash of a looping pod", crashed(1, 1, "Error", t0.Add(time.Minute)), crashed(2, 1, "Error", t0.Add(2*time.Minute)), svc,
			[]model.InstanceEventKind{model.InstanceExited, model.InstanceRestarted, model.InstanceBackoff}},
		{"two restarts coalesced into one update count twice", crashed(1, 1, "Error", t0.Add(time.Minute)), crashed(3, 1, "Error", t0.Add(3*time.Minute)), svc,
			[]model.InstanceEventKind{model.InstanceExited, model.InstanceRestarted, model.InstanceRestarted, model.InstanceBackoff}},
		{"run again after back-off", crashed(1, 1, "Error", t0.Add(time.Minute)),
			podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0.Add(2 * time.Minute)), RestartCount: 1,
				LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "Error", t0.Add(time.Minute))}}), svc,
			[]model.InstanceEventKind{model.InstanceStarted}},
		{"readiness lost", runningReady, podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0)}), svc,
			[]model.InstanceEventKind{model.InstanceNotReady}},
		{"pod of no service says nothing", runningReady, crashed(1, 1, "Error", t0), model.Ref{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev *podObservation
			if tt.before != nil {
				o := observe(tt.before, tt.service)
				prev = &o
			}
			_, events := changes(prev, tt.after, tt.service, t0)
			var kinds []model.InstanceEventKind
			for _, ev := range events {
				kinds = append(kinds, ev.Kind)
				if tt.service != (model.Ref{}) && (ev.Ref.ServiceRef() != tt.service || ev.Ref.Instance != "web-1" || ev.Ref.Container != "web") {
					t.Errorf("%s event ref = %v", ev.Kind, ev.Ref)
				}
			}
			if !slices.Equal(kinds, tt.want) {
				t.Errorf("events = %v, want %v", kinds, tt.want)
			}
		})
	}
}

func TestCrashEventsCarryTheExit(t *testing.T) {
	before := observe(podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0)}), model.Ref{Project: "demo", Service: "web"})
	after := podWith(corev1.PodRunning, &corev1.ContainerStatus{
		State: crashLoop("back-off 20s restarting failed container=web pod=web-1_demo(uid-1)"), RestartCount: 1,
		LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "Error", t0.Add(time.Minute))}})
	_, events := changes(&before, after, model.Ref{Project: "demo", Service: "web"}, t0.Add(time.Minute))
	byKind := map[model.InstanceEventKind]model.InstanceEvent{}
	for _, ev := range events {
		byKind[ev.Kind] = ev
	}
	tests := []struct {
		name     string
		kind     model.InstanceEventKind
		restarts int
		exit     bool
	}{
		{"exited names the run that ended", model.InstanceExited, 0, true},
		{"restarted carries the new count and the exit", model.InstanceRestarted, 1, true},
		{"backoff carries the count", model.InstanceBackoff, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := byKind[tt.kind]
			if !ok {
				t.Fatalf("no %s event in %v", tt.kind, events)
			}
			if ev.Restarts != tt.restarts || ev.Status != model.StatusCrashing {
				t.Errorf("restarts = %d, status = %s; want %d, Crashing", ev.Restarts, ev.Status, tt.restarts)
			}
			if tt.exit && (ev.Exit == nil || ev.Exit.Code != 1 || ev.Exit.Reason != "Error") {
				t.Errorf("exit = %+v, want code 1, Error", ev.Exit)
			}
		})
	}
	if got := byKind[model.InstanceBackoff].Backoff; got != 20*time.Second {
		t.Errorf("backoff = %s, want 20s from the kubelet's message", got)
	}
	if b := byKind[model.InstanceBackoff]; b.Reason != "CrashLoopBackOff" || b.Message != "back-off 20s restarting failed container=web pod=web-1_demo(uid-1)" {
		t.Errorf("backoff reason, message = %q, %q; want CrashLoopBackOff and the kubelet's message", b.Reason, b.Message)
	}
}

func TestStoppedPods(t *testing.T) {
	pod := podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0), RestartCount: 2})
	tests := []struct {
		name    string
		service model.Ref
		want    int
	}{
		{"service pod stops each container", model.Ref{Project: "demo", Service: "web"}, 1},
		{"pod of no service says nothing", model.Ref{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := stopped(observe(pod, tt.service), "web-1", t0)
			if len(events) != tt.want {
				t.Fatalf("events = %v, want %d", events, tt.want)
			}
			for _, ev := range events {
				if ev.Kind != model.InstanceStopped || ev.Restarts != 2 || ev.Ref.Instance != "web-1" {
					t.Errorf("event = %+v", ev)
				}
			}
		})
	}
}
