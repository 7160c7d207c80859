package autoscaler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// scriptedService is a service whose load the test sets: it is the input of
// the loop, as a recorded trace would be.
type scriptedService struct {
	mu       sync.Mutex
	replicas int
	util     float64 // percent of request, per instance
	noCPUReq bool
	scaled   []int
}

func (s *scriptedService) Observe(_ context.Context, _ model.Ref, _ time.Time) (int, []Pod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := podsAt(s.replicas, s.util)
	if s.noCPUReq {
		for i := range ps {
			ps[i].Requests = map[Resource]float64{}
		}
	}
	return s.replicas, ps, nil
}

func (s *scriptedService) Scale(_ context.Context, _, _ string, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas = n
	s.scaled = append(s.scaled, n)
	return nil
}

type memStates struct{ m map[model.Ref]State }

func (m *memStates) LoadState(r model.Ref) (State, bool, error) { st, ok := m.m[r]; return st, ok, nil }
func (m *memStates) SaveState(r model.Ref, st State) error      { m.m[r] = st; return nil }

func TestLoopScalesAnnouncesAndRemembers(t *testing.T) {
	web := model.Ref{Project: "demo", Service: "web"}
	svc := &scriptedService{replicas: 1, util: 200}
	states := &memStates{m: map[model.Ref]State{}}
	var events []model.Event
	now := t0
	newLoop := func() *Loop {
		l, err := NewLoop(LoopOptions{
			Policies: map[model.Ref]Policy{web: policy(1, 3)},
			Source:   svc, Scaler: svc, States: states,
			Publish: func(e model.Event) { events = append(events, e) },
			Now:     func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := newLoop()
	ctx := context.Background()

	l.Pass(ctx) // 200 % of 50 % target: wants 4, max 3
	if svc.replicas != 3 {
		t.Fatalf("replicas %d after a pass at 200%%, want 3 (max)", svc.replicas)
	}
	if len(events) != 2 || events[0].Name != model.EventAutoscalingScaled || events[1].Name != model.EventAutoscalingLimited {
		t.Fatalf("want scaled then limited, got %+v", events)
	}
	if !strings.Contains(events[1].Summary, "max replicas") {
		t.Errorf("limited event does not say why: %q", events[1].Summary)
	}

	now = now.Add(15 * time.Second)
	l.Pass(ctx) // still over: limited again, but not announced again
	if len(events) != 2 {
		t.Fatalf("a repeated limit was announced again: %+v", events[2:])
	}

	// The load drops; a new loop (a restart) must keep the 300 s window.
	svc.mu.Lock()
	svc.util = 10
	svc.mu.Unlock()
	l = newLoop()
	now = now.Add(15 * time.Second)
	l.Pass(ctx)
	if svc.replicas != 3 {
		t.Fatalf("after a restart the scale-down window was lost: replicas %d", svc.replicas)
	}
	ds := l.Decisions()
	if len(ds) != 1 || ds[0].Decisions[0].Limit != LimitStabilization {
		t.Fatalf("decision not explained as stabilization: %+v", ds)
	}
	firing := 0
	for _, e := range events {
		if e.Name == model.EventAutoscalingLimited && e.Status == model.StatusFiring {
			firing++
		}
	}
	if firing != 1 {
		t.Fatalf("want exactly one limited event, got %d: %+v", firing, events)
	}

	now = now.Add(301 * time.Second)
	l.Pass(ctx)
	if svc.replicas != 1 {
		t.Fatalf("replicas %d after the window, want 1", svc.replicas)
	}
}

func TestLoopExplainsAMissingRequestOnce(t *testing.T) {
	web := model.Ref{Project: "demo", Service: "web"}
	svc := &scriptedService{replicas: 2, util: 10, noCPUReq: true}
	_, events := twoPasses(t, LoopOptions{Policies: map[model.Ref]Policy{web: policy(1, 3)}, Source: svc, Scaler: svc})
	if len(events) != 1 || !strings.Contains(events[0].Summary, "missing request for cpu") {
		t.Fatalf("want one limited event naming the missing request, got %+v", events)
	}
	if svc.replicas != 2 {
		t.Errorf("an invalid metric changed the count to %d", svc.replicas)
	}
}

// twoPasses runs two passes at t0 of a loop over opts and returns it with
// the events it published.
func twoPasses(t *testing.T, opts LoopOptions) (*Loop, []model.Event) {
	t.Helper()
	var events []model.Event
	opts.Publish = func(e model.Event) { events = append(events, e) }
	opts.Now = func() time.Time { return t0 }
	l, err := NewLoop(opts)
	if err != nil {
		t.Fatal(err)
	}
	l.Pass(context.Background())
	l.Pass(context.Background())
	return l, events
}

func TestNewLoopRejectsInvalidPolicies(t *testing.T) {
	svc := &scriptedService{}
	_, err := NewLoop(LoopOptions{
		Policies: map[model.Ref]Policy{{Project: "demo", Service: "web"}: {MinReplicas: 3, MaxReplicas: 2, Metrics: []Metric{{Resource: CPU, TargetUtilization: 50}}, Behavior: DefaultBehavior()}},
		Source:   svc, Scaler: svc,
	})
	if err == nil || !strings.Contains(err.Error(), "demo/web") || !strings.Contains(err.Error(), "minReplicas") {
		t.Fatalf("got %v", err)
	}
}

// hpaScaler is a scaler whose services have HorizontalPodAutoscalers.
type hpaScaler struct {
	*scriptedService
	hpa string
}

func (h hpaScaler) HPAFor(context.Context, string, string) (string, bool, error) {
	return h.hpa, h.hpa != "", nil
}

func TestLoopRefusesAServiceAnHPAScales(t *testing.T) {
	web := model.Ref{Project: "shop", Service: "web"}
	svc := &scriptedService{replicas: 2, util: 200}
	l, events := twoPasses(t, LoopOptions{Policies: map[model.Ref]Policy{web: policy(1, 10)}, Source: svc, Scaler: hpaScaler{svc, "web-hpa"}})
	if len(svc.scaled) != 0 {
		t.Errorf("scaled to %v a service an HPA scales", svc.scaled)
	}
	d := l.Decisions()[0].Decisions[0]
	if d.Limit != LimitHPA || !strings.Contains(d.Reason, `"web-hpa"`) {
		t.Errorf("decision = %s: %s; want the HPA named", d.Limit, d.Reason)
	}
	if len(events) != 1 || events[0].Name != model.EventAutoscalingLimited || !strings.Contains(events[0].Summary, "web-hpa") {
		t.Errorf("want one limited event naming the HPA, got %+v", events)
	}
}
