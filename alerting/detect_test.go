package alerting

import (
	"reflect"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

var web1 = model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}

func TestInstanceDetector(t *testing.T) {
	exit1 := &model.Exit{Code: 1, Reason: "Error"}
	runDetectorCases(t, []detectorCase{
		{"a clean exit is no crash", []model.InstanceEvent{
			{Kind: model.InstanceExited, Ref: web1, Time: t0, Exit: &model.Exit{Code: 0, Reason: "Completed"}},
		}, nil},
		{"a non-zero exit is a crash", []model.InstanceEvent{
			{Kind: model.InstanceExited, Ref: web1, Time: t0, Exit: exit1},
		}, []string{"container.crash:firing"}},
		{"a signal is a crash", []model.InstanceEvent{
			{Kind: model.InstanceExited, Ref: web1, Time: t0, Exit: &model.Exit{Code: -1, Signal: "SIGSEGV", Reason: "Signaled"}},
		}, []string{"container.crash:firing"}},
		{"an OOM kill is an oom, not a crash", []model.InstanceEvent{
			{Kind: model.InstanceExited, Ref: web1, Time: t0, Exit: &model.Exit{Code: 137, Reason: "OOMKilled", OOMKilled: true}},
			{Kind: model.InstanceOOMKilled, Ref: web1, Time: t0, Exit: &model.Exit{Code: 137, Reason: "OOMKilled", OOMKilled: true}},
		}, []string{"container.oom:firing"}},
		{"restarts below the threshold are no loop", []model.InstanceEvent{
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0, Restarts: 1, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(time.Minute), Restarts: 2, Exit: exit1},
		}, nil},
		{"the third restart within the window is a loop, once", []model.InstanceEvent{
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0, Restarts: 1, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(time.Minute), Restarts: 2, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(2 * time.Minute), Restarts: 3, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(3 * time.Minute), Restarts: 4, Exit: exit1},
		}, []string{"container.crashloop:firing"}},
		{"restarts spread wider than the window are no loop", []model.InstanceEvent{
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0, Restarts: 1, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(6 * time.Minute), Restarts: 2, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(12 * time.Minute), Restarts: 3, Exit: exit1},
		}, nil},
		{"a failing probe fires and its recovery resolves", []model.InstanceEvent{
			{Kind: model.InstanceProbeFailing, Ref: web1, Time: t0, Probe: &model.ProbeStatus{Type: "readiness", Result: "failure", Message: "HTTP probe failed with statuscode: 500"}},
			{Kind: model.InstanceProbeRecovered, Ref: web1, Time: t0.Add(time.Minute), Probe: &model.ProbeStatus{Type: "readiness", Result: "success"}},
		}, []string{"probe.failing:firing", "probe.failing:resolved"}},
		{"a stopped loop resolves", []model.InstanceEvent{
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0, Restarts: 1, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(time.Second), Restarts: 2, Exit: exit1},
			{Kind: model.InstanceRestarted, Ref: web1, Time: t0.Add(2 * time.Second), Restarts: 3, Exit: exit1},
			{Kind: model.InstanceStopped, Ref: web1, Time: t0.Add(3 * time.Second)},
		}, []string{"container.crashloop:firing", "container.crashloop:resolved"}},
	})
}

// detectorCase is a run of instance events and the name:status of every
// event an instance detector raises for them, in order.
type detectorCase struct {
	name   string
	events []model.InstanceEvent
	want   []string
}

// runDetectorCases feeds each case's events to a new instance detector
// with the crash-loop rule at 3 restarts in 10 minutes.
func runDetectorCases(t *testing.T, tests []detectorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newInstanceDetector(CrashLoop{Restarts: 3, Window: 10 * time.Minute}, nil)
			var got []string
			for _, ie := range tt.events {
				got = append(got, names(d.Observe(ie))...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCrashLoopResolvesAfterAQuietWindow(t *testing.T) {
	d := newInstanceDetector(CrashLoop{Restarts: 1, Window: 10 * time.Minute}, nil)
	d.Observe(model.InstanceEvent{Kind: model.InstanceRestarted, Ref: web1, Time: t0, Restarts: 1})
	if got := d.Tick(t0.Add(9 * time.Minute)); len(got) != 0 {
		t.Fatalf("resolved within the window: %v", names(got))
	}
	got := d.Tick(t0.Add(10*time.Minute + time.Second))
	if len(got) != 1 || got[0].Status != model.StatusResolved {
		t.Fatalf("got %v, want the loop resolved", names(got))
	}
}
