package alerting

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// events is a platform that streams what the test sends.
type events chan model.InstanceEvent

func (e events) Subscribe(ctx context.Context) <-chan model.InstanceEvent { return e }

// countedWindows counts the usage detectors' passes; set replaces its
// series.
type countedWindows struct {
	mu     sync.Mutex
	series fakeWindows
	reads  atomic.Int64
}

func (c *countedWindows) Window(typ model.MetricType, from, to time.Time) []model.MetricSeries {
	c.reads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.series.Window(typ, from, to)
}

func (c *countedWindows) set(typ model.MetricType, series ...model.MetricSeries) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.series[typ] = series
}

// When a pod is deleted, the alerts still firing about it resolve, and its
// last samples, still in the metrics window, do not fire them again: the
// alert state does not grow with the pods a cluster replaces. A condition
// (memory, a failing probe) sends its resolve to whoever got its firing; a
// one-shot crash is closed quietly.
func TestAlertsOfADeletedPodResolve(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	clock := sinktest.NewFakeClock(t0.Add(time.Minute))
	now := clock.Now()
	memory := func(instance string) model.MetricSeries {
		s := ramp(model.MetricMemoryLimitPercent, "", t0, repeat(95, 5)...)
		s.Instance = instance
		return s
	}
	windows := &countedWindows{series: fakeWindows{model.MetricMemoryLimitPercent: {memory("web-1"), memory("web-2")}}}
	platform := make(events, 16)
	rules := testRules(time.Hour)
	rules.Memory = UsageRule{Threshold: 90}
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: rules, Platform: platform, Metrics: windows,
		Now: clock.Now, TickEvery: 10 * time.Millisecond,
		Integrations: []Integration{{Name: "hook", Type: "webhook", Notifier: webhookNotifier(t, "hook", srv.URL, "s3cret")}}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	web1 := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
	platform <- model.InstanceEvent{Kind: model.InstanceExited, Ref: web1, Time: now, Exit: &model.Exit{Code: 1, Reason: "Error"}}
	platform <- model.InstanceEvent{Kind: model.InstanceProbeFailing, Ref: web1, Time: now, Probe: &model.ProbeStatus{Type: "readiness", Result: "failure", Consecutive: 3, Message: "503"}}
	state := func() map[string]string {
		alerts, err := p.Alerts()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, a := range alerts {
			out[a.Event+" "+a.Instance] = a.Status
		}
		return out
	}
	firing := map[string]string{
		"container.crash web-1": "firing", "probe.failing web-1": "firing",
		"container.memory-spike web-1": "firing", "container.memory-spike web-2": "firing",
	}
	sinktest.Eventually(t, 5*time.Second, "four alerts firing", func() error {
		if got := state(); fmt.Sprint(got) != fmt.Sprint(firing) {
			return fmt.Errorf("alerts %v", got)
		}
		return nil
	})

	platform <- model.InstanceEvent{Kind: model.InstanceStopped, Ref: web1, Time: now, Status: model.StatusTerminated}
	want := map[string]string{
		"container.crash web-1": "resolved", "probe.failing web-1": "resolved",
		"container.memory-spike web-1": "resolved", "container.memory-spike web-2": "firing",
	}
	sinktest.Eventually(t, 5*time.Second, "web-1's alerts resolved", func() error {
		if got := state(); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("alerts %v", got)
		}
		return nil
	})
	// Several passes over web-1's samples, still in the window, later.
	reads := windows.reads.Load()
	sinktest.WaitFor(t, 5*time.Second, "three more passes of the usage detectors", func() bool { return windows.reads.Load() >= reads+3 })
	if got := state(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after more passes, alerts %v, want %v", got, want)
	}
	sinktest.WaitFor(t, 5*time.Second, "six messages", func() bool { return len(rcv.Requests()) >= 6 })
	resolves := map[string]string{}
	for _, r := range rcv.Requests() {
		if r.Event.Status == model.StatusResolved {
			resolves[r.Event.Name+" "+r.Event.Instance] = r.Event.Summary
		}
	}
	if fmt.Sprint(resolves) != fmt.Sprint(map[string]string{"container.memory-spike web-1": "web-1 no longer runs", "probe.failing web-1": "web-1 no longer runs"}) {
		t.Errorf("resolves sent: %v, want memory-spike and probe.failing of web-1 (a crash has no resolve)", resolves)
	}

	// A new pod of the same name (a StatefulSet's) fires afresh.
	fresh := ramp(model.MetricMemoryLimitPercent, "", now.Add(15*time.Second), 97)
	windows.set(model.MetricMemoryLimitPercent, fresh, memory("web-2"))
	clock.Advance(20 * time.Second)
	sinktest.Eventually(t, 5*time.Second, "web-1's memory alert firing again", func() error {
		if got := state()["container.memory-spike web-1"]; got != "firing" {
			return fmt.Errorf("web-1 memory-spike %q", got)
		}
		return nil
	})
}

// listed is a platform that lists a fixed set of instances of demo/web.
type listed struct {
	events
	instances *atomic.Pointer[[]string] // what Services lists now
}

func (l listed) Services(context.Context) ([]model.Service, error) {
	svc := model.Service{Project: "demo", Name: "web"}
	for _, name := range *l.instances.Load() {
		svc.Instances = append(svc.Instances, model.Instance{Name: name, Container: "web"})
	}
	return []model.Service{svc}, nil
}

// An instance that went while no event told of it (its pod deleted while
// no controller led) has its alerts resolved at the next pruning.
func TestAlertsOfAnInstanceNoLongerListedResolve(t *testing.T) {
	clock := sinktest.NewFakeClock(t0)
	// Both are listed while their crash loops start firing (a sweep may
	// come at any tick), then web-1 goes without an event.
	instances := &atomic.Pointer[[]string]{}
	instances.Store(&[]string{"web-1", "web-2"})
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: testRules(time.Hour), Platform: listed{events: make(events), instances: instances},
		Now: clock.Now, TickEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	p.Publish(crashLoopEvent("web-1"))
	p.Publish(crashLoopEvent("web-2"))
	status := func() string {
		alerts, err := p.Alerts()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, a := range alerts {
			out[a.Instance] = a.Status
		}
		return fmt.Sprint(out)
	}
	sinktest.Eventually(t, 5*time.Second, "both crash loops firing", func() error {
		if got := status(); got != "map[web-1:firing web-2:firing]" {
			return fmt.Errorf("alerts %s", got)
		}
		return nil
	})
	instances.Store(&[]string{"web-2"})
	clock.Advance(pruneEvery + time.Second)
	sinktest.Eventually(t, 5*time.Second, "web-1's crash loop resolved at the pruning", func() error {
		if got := status(); got != "map[web-1:resolved web-2:firing]" {
			return fmt.Errorf("alerts %s", got)
		}
		return nil
	})
}
