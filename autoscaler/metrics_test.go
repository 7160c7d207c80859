package autoscaler

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/opshub/opshub/model"
)

func TestLoopMetricsShowBoundsDecisionsAndLimits(t *testing.T) {
	web := model.Ref{Project: "demo", Service: "web"}
	svc := &scriptedService{replicas: 1, util: 200}
	l, err := NewLoop(LoopOptions{
		Policies: map[model.Ref]Policy{web: policy(1, 3)},
		Source:   svc, Scaler: svc,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(l)

	// Before any decision: bounds, target and every limit counted at 0.
	before := `
# HELP opshub_autoscaler_max_replicas maxReplicas of the service's autoscaling policy.
# TYPE opshub_autoscaler_max_replicas gauge
opshub_autoscaler_max_replicas{project="demo",service="web"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(before), "opshub_autoscaler_max_replicas"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "opshub_autoscaler_decisions_total"); err != nil || n != len(Limits) {
		t.Errorf("%d decision series before the first pass (%v), want one per limit, %d", n, err, len(Limits))
	}
	if n, _ := testutil.GatherAndCount(reg, "opshub_autoscaler_desired_replicas"); n != 0 {
		t.Errorf("desired replicas shown before any decision")
	}

	l.Pass(context.Background()) // 200 % of a 50 % target wants 4: limited to 3
	after := `
# HELP opshub_autoscaler_current_replicas Replicas of the service when the autoscaler last decided.
# TYPE opshub_autoscaler_current_replicas gauge
opshub_autoscaler_current_replicas{project="demo",service="web"} 1
# HELP opshub_autoscaler_desired_replicas Replicas the autoscaler last decided on, after stabilization, rate policies and bounds.
# TYPE opshub_autoscaler_desired_replicas gauge
opshub_autoscaler_desired_replicas{project="demo",service="web"} 3
# HELP opshub_autoscaler_utilization_percent Average utilization of the resource in percent of the request, as the last decision measured it.
# TYPE opshub_autoscaler_utilization_percent gauge
opshub_autoscaler_utilization_percent{project="demo",resource="cpu",service="web"} 200
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(after),
		"opshub_autoscaler_current_replicas", "opshub_autoscaler_desired_replicas", "opshub_autoscaler_utilization_percent"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "opshub_autoscaler_decisions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "limit" && lp.GetValue() == "max_replicas" && m.GetCounter().GetValue() != 1 {
					t.Errorf("decisions limited by max_replicas = %v, want 1", m.GetCounter().GetValue())
				}
			}
		}
	}
}
