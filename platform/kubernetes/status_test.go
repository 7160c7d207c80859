package kubernetes

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/model"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// podWith builds a one-container pod named web-1 with the given container
// status (nil for none) and phase.
func podWith(phase corev1.PodPhase, cs *corev1.ContainerStatus, mutate ...func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "demo", UID: "uid-1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}, RestartPolicy: corev1.RestartPolicyAlways},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if cs != nil {
		c := *cs
		c.Name = "web"
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{c}
	}
	for _, m := range mutate {
		m(pod)
	}
	return pod
}

func running(at time.Time) corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(at)}}
}

func terminated(code int32, reason string, at time.Time) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, FinishedAt: metav1.NewTime(at)}
}

func crashLoop(message string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff, Message: message}}
}

func ready(pod *corev1.Pod) {
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
}

func TestStatusWords(t *testing.T) {
	no := false
	tests := []struct {
		name string
		pod  *corev1.Pod
		want model.Status
	}{
		{"pending without container status is staging", podWith(corev1.PodPending, nil), model.StatusStaging},
		{"creating the container is staging", podWith(corev1.PodPending, &corev1.ContainerStatus{
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}), model.StatusStaging},
		{"image pull back-off is staging", podWith(corev1.PodPending, &corev1.ContainerStatus{
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}), model.StatusStaging},
		{"running but startup probe not passed is starting", podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State: running(t0), Started: &no}), model.StatusStarting},
		{"running is running", podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0)}), model.StatusRunning},
		{"crash loop back-off is crashing", podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State: crashLoop("back-off 10s restarting failed container"), RestartCount: 1,
			LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "Error", t0)}}), model.StatusCrashing},
		{"waiting after a run ended is crashing", podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
			LastTerminationState: corev1.ContainerState{Terminated: terminated(137, "OOMKilled", t0)}}), model.StatusCrashing},
		{"just exited and will restart is crashing", podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State: corev1.ContainerState{Terminated: terminated(1, "Error", t0)}}), model.StatusCrashing},
		{"exited 0 under OnFailure is terminated", podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State: corev1.ContainerState{Terminated: terminated(0, "Completed", t0)}},
			func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }), model.StatusTerminated},
		{"exited 2 under Never is failed", podWith(corev1.PodRunning, &corev1.ContainerStatus{
			State: corev1.ContainerState{Terminated: terminated(2, "Error", t0)}},
			func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }), model.StatusFailed},
		{"deleted pod is terminating", podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0)},
			func(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now }), model.StatusTerminating},
		{"succeeded pod is terminated", podWith(corev1.PodSucceeded, &corev1.ContainerStatus{
			State: corev1.ContainerState{Terminated: terminated(0, "Completed", t0)}}), model.StatusTerminated},
		{"evicted pod is failed", podWith(corev1.PodFailed, nil,
			func(p *corev1.Pod) { p.Status.Reason = "Evicted" }), model.StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := instanceOf(tt.pod).Status; got != tt.want {
				t.Errorf("status = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestInstanceTranslation(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want model.Instance
	}{
		{
			name: "ready running pod",
			pod:  podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0), Ready: true}, ready),
			want: model.Instance{Name: "web-1", Container: "web", UID: "uid-1", Status: model.StatusRunning, Ready: true, StartedAt: t0},
		},
		{
			name: "crash loop keeps restarts, last exit and back-off",
			pod: podWith(corev1.PodRunning, &corev1.ContainerStatus{
				State: crashLoop("back-off 40s restarting failed container=web pod=web-1_demo(uid-1)"), RestartCount: 3,
				LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "Error", t0)}}),
			want: model.Instance{Name: "web-1", Container: "web", UID: "uid-1", Status: model.StatusCrashing, Restarts: 3,
				LastExit: &model.Exit{Code: 1, Reason: "Error", Time: t0}, Backoff: "40s"},
		},
		{
			name: "OOM kill is marked",
			pod: podWith(corev1.PodRunning, &corev1.ContainerStatus{State: running(t0.Add(time.Second)), RestartCount: 1,
				LastTerminationState: corev1.ContainerState{Terminated: terminated(137, "OOMKilled", t0)}}),
			want: model.Instance{Name: "web-1", Container: "web", UID: "uid-1", Status: model.StatusRunning, Restarts: 1,
				LastExit: &model.Exit{Code: 137, Reason: "OOMKilled", OOMKilled: true, Time: t0}, StartedAt: t0.Add(time.Second)},
		},
		{
			name: "missing reason is filled like the kubelet",
			pod: podWith(corev1.PodRunning, &corev1.ContainerStatus{
				State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 143, Signal: 15, FinishedAt: metav1.NewTime(t0)}}}),
			want: model.Instance{Name: "web-1", Container: "web", UID: "uid-1", Status: model.StatusCrashing,
				LastExit: &model.Exit{Code: 143, Signal: "SIGTERM", Reason: "Error", Time: t0}},
		},
		{
			name: "default container annotation picks the instance's container",
			pod: podWith(corev1.PodRunning, nil, func(p *corev1.Pod) {
				p.Annotations = map[string]string{defaultContainerAnnotation: "app"}
				p.Spec.Containers = []corev1.Container{{Name: "sidecar"}, {Name: "app"}}
				p.Status.ContainerStatuses = []corev1.ContainerStatus{
					{Name: "sidecar", State: running(t0)},
					{Name: "app", State: crashLoop(""), RestartCount: 2, LastTerminationState: corev1.ContainerState{Terminated: terminated(1, "", t0)}},
				}
			}),
			want: model.Instance{Name: "web-1", Container: "app", UID: "uid-1", Status: model.StatusCrashing, Restarts: 2,
				LastExit: &model.Exit{Code: 1, Reason: "Error", Time: t0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := instanceOf(tt.pod)
			tt.want.Probes = []model.ProbeStatus{}
			if tt.want.LastExit != nil {
				tt.want.RecentExits = []model.Exit{*tt.want.LastExit}
			}
			if !equalInstances(got, tt.want) {
				t.Errorf("instance =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

func equalInstances(a, b model.Instance) bool {
	if (a.LastExit == nil) != (b.LastExit == nil) || (a.LastExit != nil && *a.LastExit != *b.LastExit) {
		return false
	}
	if len(a.RecentExits) != len(b.RecentExits) || a.Probes == nil {
		return false
	}
	return a.Name == b.Name && a.Container == b.Container && a.UID == b.UID && a.Status == b.Status &&
		a.Ready == b.Ready && a.Restarts == b.Restarts && a.StartedAt.Equal(b.StartedAt) && a.Backoff == b.Backoff
}
