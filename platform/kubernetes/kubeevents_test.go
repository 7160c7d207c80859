package kubernetes

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opshub/opshub/model"
)

func TestProbeMessages(t *testing.T) {
	tests := []struct {
		message      string
		probe, cause string
		ok           bool
	}{
		{"Liveness probe failed: HTTP probe failed with statuscode: 500", "liveness", "HTTP probe failed with statuscode: 500", true},
		{"Readiness probe failed: dial tcp 10.0.0.7:8080: connect: connection refused", "readiness", "dial tcp 10.0.0.7:8080: connect: connection refused", true},
		{"Startup probe errored: rpc error: code = Unknown", "startup", "rpc error: code = Unknown", true},
		{"Liveness probe failed: cat: /tmp/healthy: No such file\nor directory\n", "liveness", "cat: /tmp/healthy: No such file\nor directory", true},
		{"Back-off restarting failed container", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			probe, cause, ok := probeOf(tt.message)
			if probe != tt.probe || cause != tt.cause || ok != tt.ok {
				t.Errorf("probeOf = %q, %q, %t; want %q, %q, %t", probe, cause, ok, tt.probe, tt.cause, tt.ok)
			}
		})
	}
	if got := containerOfField("spec.containers{web}"); got != "web" {
		t.Errorf("container of field = %q, want web", got)
	}
}

func TestEvictions(t *testing.T) {
	tests := []struct {
		name    string
		status  corev1.PodStatus
		message string
		ok      bool
	}{
		{"kubelet under node pressure", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted",
			Message: "The node was low on resource: memory."}, "The node was low on resource: memory.", true},
		{"eviction API (drain)", corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"}}},
			"Eviction API: evicting", true},
		{"preemption is not an eviction", corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "PreemptionByScheduler"}}}, "", false},
		{"a failed pod is not evicted", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok := evictionOf(&corev1.Pod{Status: tt.status})
			if ok != tt.ok || ev.message != tt.message || (ok && ev.reason != "Evicted") {
				t.Errorf("eviction = %+v, %t; want %q, %t", ev, ok, tt.message, tt.ok)
			}
		})
	}
}

// collect gathers the events of one instance until n arrived or wait
// passed.
func collect(t *testing.T, events <-chan model.InstanceEvent, instance string, n int, wait time.Duration) []model.InstanceEvent {
	t.Helper()
	var got []model.InstanceEvent
	quiet := time.NewTimer(wait)
	defer quiet.Stop()
	for len(got) < n {
		select {
		case ev := <-events:
			if ev.Ref.Instance == instance {
				got = append(got, ev)
			}
		case <-quiet.C:
			return got
		}
	}
	return got
}

func TestPodWarningsBecomeInstanceEvents(t *testing.T) {
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "dep-web"}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7f9c", UID: "rs-web"}}
	controlledBy(rs, kindDeployment, "web", "dep-web")
	running := pod("shop", "web-7f9c-a", rs, kindReplicaSet)
	running.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: running0()}}}
	p, client := runFake(t, Options{Now: func() time.Time { return t0 }}, web, rs, running)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := p.Subscribe(ctx)
	kubeEvent := func(name, reason, message string, count int32) *corev1.Event {
		return &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("ev-" + name)},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: running.Name, UID: running.UID,
				FieldPath: "spec.containers{app}"},
			Reason: reason, Message: message, Type: corev1.EventTypeWarning, Count: count, LastTimestamp: metav1.NewTime(t0),
		}
	}

	t.Run("Unhealthy becomes probe-failing with the probe type", func(t *testing.T) {
		e := kubeEvent("web.1", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500", 1)
		if _, err := client.CoreV1().Events("shop").Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		got := collect(t, events, running.Name, 1, 10*time.Second)
		if len(got) != 1 || got[0].Kind != model.InstanceProbeFailing || got[0].Probe == nil {
			t.Fatalf("events = %+v, want one probe-failing", got)
		}
		pr := got[0].Probe
		if pr.Type != "liveness" || pr.Result != "failure" || pr.Message != "HTTP probe failed with statuscode: 500" || got[0].Ref.Container != "app" {
			t.Errorf("probe = %+v on %v", pr, got[0].Ref)
		}
		// The kubelet counts the next failure on the same event.
		e.Count = 2
		if _, err := client.CoreV1().Events("shop").Update(ctx, e, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := collect(t, events, running.Name, 1, 10*time.Second); len(got) != 1 || got[0].Probe.Consecutive != 2 {
			t.Errorf("after the count moved: %+v, want one probe-failing", got)
		}
	})

	t.Run("an evicted pod emits exactly one evicted event", func(t *testing.T) {
		evicted := running.DeepCopy()
		evicted.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "The node was low on resource: memory."}
		if _, err := client.CoreV1().Pods("shop").UpdateStatus(ctx, evicted, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		e := kubeEvent("web.2", "Evicted", "The node was low on resource: memory.", 1)
		if _, err := client.CoreV1().Events("shop").Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Another status write of the same evicted pod must not repeat it.
		evicted.Status.Message += " "
		if _, err := client.CoreV1().Pods("shop").UpdateStatus(ctx, evicted, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Nothing more may come: wait a moment beyond the last write.
		got := collect(t, events, running.Name, 10, 2*time.Second)
		var n int
		for _, ev := range got {
			if ev.Kind == model.InstanceEvicted {
				n++
				if ev.Reason != "Evicted" || ev.Message == "" || ev.Status != model.StatusFailed {
					t.Errorf("evicted event = %+v", ev)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d evicted events in %+v, want 1", n, got)
		}
	})
}

func running0() corev1.ContainerState { return running(t0) }
