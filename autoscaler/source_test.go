package autoscaler

import (
	"context"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// onePlatform is a platform with one service as the test sets it.
type onePlatform struct{ svc model.Service }

func (p *onePlatform) Services(context.Context) ([]model.Service, error) {
	return []model.Service{p.svc}, nil
}
func (p *onePlatform) Service(context.Context, string, string) (model.Service, error) {
	return p.svc, nil
}
func (p *onePlatform) Subscribe(ctx context.Context) <-chan model.InstanceEvent { return nil }
func (p *onePlatform) Scale(context.Context, string, string, int) error         { return nil }

// flatUsage reports the same CPU usage for every container.
type flatUsage map[string]float64

func (u flatUsage) Usage(ref model.Ref, r Resource) (Sample, bool) {
	v, ok := u[ref.Instance]
	return Sample{Value: v, Time: t0, Window: 30 * time.Second}, ok && r == CPU
}

func TestPlatformSourceLeavesSurgeInstancesOut(t *testing.T) {
	web := model.Ref{Project: "shop", Service: "web"}
	started := t0.Add(-time.Hour)
	// A rolling update of 2 replicas: two old pods carry the load at 90 %
	// of their request, the surge pod has a start-up spike.
	src := &PlatformSource{
		Platform: &onePlatform{svc: model.Service{Project: "shop", Name: "web", Replicas: 2, Instances: []model.Instance{
			{Name: "web-old-a", Container: "web", Status: model.StatusRunning, Ready: true, StartedAt: started},
			{Name: "web-old-b", Container: "web", Status: model.StatusRunning, Ready: true, StartedAt: started},
			{Name: "web-new-c", Container: "web", Status: model.StatusRunning, Ready: true, StartedAt: started, Surge: true},
		}}},
		Usage:    flatUsage{"web-old-a": 0.9, "web-old-b": 0.9, "web-new-c": 3},
		Requests: map[model.Ref]map[Resource]float64{web: {CPU: 1}},
	}
	current, pods, err := src.Observe(context.Background(), web, t0)
	if err != nil {
		t.Fatal(err)
	}
	if current != 2 {
		t.Errorf("current = %d, want the desired 2, not the 3 pods running", current)
	}
	for _, p := range pods {
		if want := p.Name == "web-new-c"; p.Ignored != want {
			t.Errorf("%s ignored = %t, want %t", p.Name, p.Ignored, want)
		}
	}
	// With the surge pod counted, utilization would be (0.9+0.9+3)/3 =
	// 160 % and the service would double; without it it is 90 %.
	d := Decide(DefaultOptions(), policy(1, 10), &State{}, t0, current, pods)
	if d.Desired != 4 {
		// 90 % of a 50 % target on 2 replicas: ceil(1.8 × 2) = 4.
		t.Errorf("desired = %d (%s: %s), want 4 from the two steady pods", d.Desired, d.Limit, d.Reason)
	}
}

// On Kubernetes there is no declared request in the config: the pod spec's
// requests, reported per instance, are what utilization is measured against.
func TestPlatformSourceUsesTheInstancesOwnRequests(t *testing.T) {
	api := model.Ref{Project: "shop", Service: "api"}
	started := t0.Add(-time.Hour)
	src := &PlatformSource{
		Platform: &onePlatform{svc: model.Service{Project: "shop", Name: "api", Replicas: 2, Instances: []model.Instance{
			{Name: "api-a", Container: "api", Status: model.StatusRunning, Ready: true, StartedAt: started, Requests: &model.Requests{CPU: 0.5}},
			{Name: "api-b", Container: "api", Status: model.StatusRunning, Ready: true, StartedAt: started, Requests: &model.Requests{CPU: 0.5}},
		}}},
		Usage: flatUsage{"api-a": 0.45, "api-b": 0.45},
	}
	current, pods, err := src.Observe(context.Background(), api, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if p.Requests[CPU] != 0.5 {
			t.Errorf("%s cpu request = %v, want the pod spec's 0.5", p.Name, p.Requests[CPU])
		}
	}
	// 90 % of a 50 % target on 2 replicas: ceil(1.8 × 2) = 4.
	if d := Decide(DefaultOptions(), policy(1, 10), &State{}, t0, current, pods); d.Desired != 4 {
		t.Errorf("desired = %d (%s: %s), want 4", d.Desired, d.Limit, d.Reason)
	}
}
