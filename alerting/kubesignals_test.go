package alerting

import (
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// The Kubernetes platform reports CrashLoopBackOff and evictions as
// instance events of their own (platform/kubernetes sets Reason and
// Message); these are what it sends for a pod that loops and one that the
// kubelet evicts.
func TestKubernetesSignals(t *testing.T) {
	exit1 := &model.Exit{Code: 1, Reason: "Error"}
	backoff := func(at time.Duration, restarts int) model.InstanceEvent {
		return model.InstanceEvent{Kind: model.InstanceBackoff, Ref: web1, Time: t0.Add(at), Restarts: restarts,
			Backoff: 20 * time.Second, Reason: ReasonCrashLoopBackOff,
			Message: "back-off 20s restarting failed container=web pod=web-1_demo(0b1c)"}
	}
	restart := func(at time.Duration, n int) model.InstanceEvent {
		return model.InstanceEvent{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(at), Restarts: n, Exit: exit1}
	}
	runDetectorCases(t, []detectorCase{
		{"CrashLoopBackOff is a crash loop before the restart count says so", []model.InstanceEvent{
			restart(0, 1), backoff(time.Second, 1),
		}, []string{"container.crashloop:firing"}},
		{"the restart rule after CrashLoopBackOff adds nothing", []model.InstanceEvent{
			restart(0, 1), backoff(time.Second, 1), restart(20*time.Second, 2), backoff(21*time.Second, 2),
			restart(60*time.Second, 3), backoff(61*time.Second, 3), restart(140*time.Second, 4),
		}, []string{"container.crashloop:firing"}},
		{"CrashLoopBackOff after the restart rule fired adds nothing", []model.InstanceEvent{
			restart(0, 1), restart(time.Second, 2), restart(2*time.Second, 3), backoff(3*time.Second, 3), backoff(time.Minute, 4),
		}, []string{"container.crashloop:firing"}},
		{"the local runtime's back-off has no reason and is left to the restart rule", []model.InstanceEvent{
			restart(0, 1), {Kind: model.InstanceBackoff, Ref: web1, Time: t0.Add(time.Second), Restarts: 1, Backoff: 10 * time.Second},
		}, nil},
		{"image pull back-off is no crash loop", []model.InstanceEvent{
			{Kind: model.InstanceBackoff, Ref: web1, Time: t0, Reason: "ImagePullBackOff"},
		}, nil},
		{"a stopped pod ends the episode; a new one starts afresh", []model.InstanceEvent{
			backoff(0, 1), {Kind: model.InstanceStopped, Ref: web1, Time: t0.Add(time.Minute)}, backoff(2*time.Minute, 1),
		}, []string{"container.crashloop:firing", "container.crashloop:resolved", "container.crashloop:firing"}},
		{"an eviction", []model.InstanceEvent{
			{Kind: model.InstanceEvicted, Ref: web1, Time: t0, Reason: "Evicted", Message: "The node was low on resource: memory."},
		}, []string{"container.eviction:firing"}},
	})
}

func TestCrashLoopBackOffEventCarriesThePlatformsWords(t *testing.T) {
	d := newInstanceDetector(CrashLoop{Restarts: 3, Window: 10 * time.Minute}, func(r model.Ref, view string, _ time.Time) string {
		return "http://opshub/services/" + r.Project + "/" + r.Service + "/" + view
	})
	evs := d.Observe(model.InstanceEvent{Kind: model.InstanceBackoff, Ref: web1, Time: t0, Restarts: 5, Backoff: 80 * time.Second,
		Reason: ReasonCrashLoopBackOff, Message: "back-off 1m20s restarting failed container=web pod=web-1_demo(0b1c)"})
	if len(evs) != 1 {
		t.Fatalf("got %v", names(evs))
	}
	ev := evs[0]
	want := map[string]any{"reason": "CrashLoopBackOff", "backoff": "1m20s", "restarts": 5,
		"message": "back-off 1m20s restarting failed container=web pod=web-1_demo(0b1c)", "link": "http://opshub/services/demo/web/logs"}
	for k, v := range want {
		if ev.Data[k] != v {
			t.Errorf("data[%s] = %v, want %v", k, ev.Data[k], v)
		}
	}
	if ev.Severity != model.SeverityCritical || ev.Summary != "web-1 is in CrashLoopBackOff after 5 restarts, next start in 1m20s" {
		t.Errorf("event %+v", ev)
	}
	// Both ways of noticing the loop make the same alert, so one throttle
	// window covers them.
	byRestarts := newInstanceDetector(CrashLoop{Restarts: 1, Window: time.Minute}, nil).
		Observe(model.InstanceEvent{Kind: model.InstanceRestarted, Ref: web1, Time: t0, Restarts: 1})
	if alertKey(byRestarts[0]) != alertKey(ev) {
		t.Errorf("alert keys differ: %q and %q", alertKey(byRestarts[0]), alertKey(ev))
	}
}

func TestEvictionCarriesTheMessage(t *testing.T) {
	d := newInstanceDetector(CrashLoop{Restarts: 3, Window: 10 * time.Minute}, nil)
	evs := d.Observe(model.InstanceEvent{Kind: model.InstanceEvicted, Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"},
		Time: t0, Status: model.StatusFailed, Reason: "Evicted", Message: "The node was low on resource: ephemeral-storage."})
	if len(evs) != 1 {
		t.Fatalf("got %v", names(evs))
	}
	ev := evs[0]
	if ev.Data["message"] != "The node was low on resource: ephemeral-storage." || ev.Data["reason"] != "Evicted" {
		t.Errorf("data %v lacks the platform's reason and message", ev.Data)
	}
	if ev.Summary != "web-1 was evicted: The node was low on resource: ephemeral-storage." || ev.Status != model.StatusFiring {
		t.Errorf("event %+v", ev)
	}
}

// A loop noticed only through CrashLoopBackOff (the controller started
// after the restarts) resolves after a quiet window, not at the next tick.
func TestCrashLoopBackOffResolvesAfterAQuietWindow(t *testing.T) {
	d := newInstanceDetector(CrashLoop{Restarts: 3, Window: 10 * time.Minute}, nil)
	d.Observe(model.InstanceEvent{Kind: model.InstanceBackoff, Ref: web1, Time: t0, Restarts: 12, Reason: ReasonCrashLoopBackOff})
	if got := d.Tick(t0.Add(5 * time.Second)); len(got) != 0 {
		t.Fatalf("resolved at the next tick: %v", names(got))
	}
	d.Observe(model.InstanceEvent{Kind: model.InstanceBackoff, Ref: web1, Time: t0.Add(5 * time.Minute), Restarts: 13, Reason: ReasonCrashLoopBackOff})
	if got := d.Tick(t0.Add(14 * time.Minute)); len(got) != 0 {
		t.Fatalf("resolved within a window of the last CrashLoopBackOff: %v", names(got))
	}
	got := d.Tick(t0.Add(15*time.Minute + time.Second))
	if len(got) != 1 || got[0].Status != model.StatusResolved || got[0].Name != model.EventContainerCrashLoop {
		t.Fatalf("got %v, want the loop resolved", names(got))
	}
}
