package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/spend"
	"github.com/opshub/opshub/store"
)

type oneContainer struct{}

func (oneContainer) Observe(context.Context, time.Time) ([]spend.Container, []spend.Volume, error) {
	return []spend.Container{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 2, MemoryRequest: 1 << 30}}, nil, nil
}

func TestSpendEndpoint(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ledger, err := spend.OpenLedger(spend.Model{Prices: spend.DefaultPrices(), Basis: spend.BasisMax}, time.UTC, spend.NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-3 * time.Hour)
	meter, err := spend.NewMeter(spend.MeterOptions{Ledger: ledger, Observer: oneContainer{}, Currency: "EUR", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 * 60 {
		meter.Tick(context.Background())
		now = now.Add(time.Minute)
	}
	h := newTestServer(t, Options{Spend: meter}).Handler()

	rec := do(t, h, "GET", "/api/v1/spend?by=project,resource", "127.0.0.1:1", "")
	var body struct {
		Currency, From, To string
		Total, Forecast    float64
		Rows               []struct {
			Project, Service, Resource string
			Cost                       float64
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	// 179 charged minutes (the first tick sets the cursor) of 2 cores and 1 GiB.
	wantCPU := 179 * 2 * 0.031611 / 60
	wantMem := 179 * 0.004237 / 60
	if body.Currency != "EUR" || len(body.Rows) != 2 || body.Rows[0].Resource != "cpu" || body.Rows[0].Project != "demo" {
		t.Fatalf("unexpected body %s", rec.Body)
	}
	if cents(body.Rows[0].Cost) != cents(wantCPU) || cents(body.Total) != cents(wantCPU+wantMem) {
		t.Errorf("cpu %.2f total %.2f; want %.2f and %.2f", body.Rows[0].Cost, body.Total, wantCPU, wantCPU+wantMem)
	}
	if body.Forecast < body.Total {
		t.Errorf("forecast %.2f below month to date %.2f", body.Forecast, body.Total)
	}

	for _, bad := range []struct{ query, field string }{{"by=colour", "by"}, {"from=yesterday", "from"}, {"from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", "from"}} {
		rec := do(t, h, "GET", "/api/v1/spend?"+bad.query, "127.0.0.1:1", "")
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"field": "`+bad.field+`"`) {
			t.Errorf("%s: %d %s", bad.query, rec.Code, rec.Body)
		}
	}
	if rec := do(t, newTestServer(t, Options{}).Handler(), "GET", "/api/v1/spend", "127.0.0.1:1", ""); rec.Code != 404 {
		t.Errorf("without spend: %d", rec.Code)
	}
}

// steadyService reports two instances at 200 % of their request.
type steadyService struct{ replicas int }

func (s *steadyService) Observe(context.Context, model.Ref, time.Time) (int, []autoscaler.Pod, error) {
	var pods []autoscaler.Pod
	for i := range s.replicas {
		pods = append(pods, autoscaler.Pod{Name: "web-" + string(rune('a'+i)), Ready: true,
			StartTime: time.Now().Add(-time.Hour), ReadySince: time.Now().Add(-time.Hour),
			Requests: map[autoscaler.Resource]float64{autoscaler.CPU: 1},
			Usage:    map[autoscaler.Resource]autoscaler.Sample{autoscaler.CPU: {Value: 1, Time: time.Now(), Window: 15 * time.Second}}})
	}
	return s.replicas, pods, nil
}

func (s *steadyService) Scale(_ context.Context, _, _ string, n int) error {
	s.replicas = n
	return nil
}

func TestAutoscalingEndpoint(t *testing.T) {
	svc := &steadyService{replicas: 2}
	loop, err := autoscaler.NewLoop(autoscaler.LoopOptions{
		Policies: map[model.Ref]autoscaler.Policy{{Project: "demo", Service: "web"}: {
			MinReplicas: 1, MaxReplicas: 3, Metrics: []autoscaler.Metric{{Resource: autoscaler.CPU, TargetUtilization: 50}}, Behavior: autoscaler.DefaultBehavior()}},
		Source: svc, Scaler: svc,
	})
	if err != nil {
		t.Fatal(err)
	}
	loop.Pass(context.Background())
	h := newTestServer(t, Options{Autoscaling: loop}).Handler()
	rec := do(t, h, "GET", "/api/v1/autoscaling", "127.0.0.1:1", "")
	var body struct {
		Decisions []struct {
			Project, Service, Reason, Limit string
			Current, Desired                int
			Metrics                         []struct {
				Resource                      string
				Utilization, Target, Proposal int
			}
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Decisions) != 1 {
		t.Fatalf("%s", rec.Body)
	}
	d := body.Decisions[0]
	if d.Current != 2 || d.Desired != 3 || d.Limit != "max replicas" || !strings.Contains(d.Reason, "maxReplicas 3") {
		t.Errorf("decision %+v", d)
	}
	if len(d.Metrics) != 1 || d.Metrics[0].Resource != "cpu" || d.Metrics[0].Utilization != 100 || d.Metrics[0].Target != 50 || d.Metrics[0].Proposal != 4 {
		t.Errorf("metrics %+v", d.Metrics)
	}
}
