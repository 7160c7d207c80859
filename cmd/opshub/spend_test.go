package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/client"
)

func TestSpendTable(t *testing.T) {
	sp := client.Spend{Currency: "USD", From: "2026-11-01T00:00:00Z", To: "2026-11-24T10:00:00Z", Total: 23.45,
		Rows: []client.SpendRow{{Project: "demo", Resource: "cpu", Cost: 17.5}, {Project: "demo", Resource: "memory", Cost: 2.25}, {Project: "shop", Resource: "cpu", Cost: 3.7}}}
	sp.Forecasts.Month, sp.Forecasts.Week = 29.31, 34.02
	var buf bytes.Buffer
	if err := renderSpend(&buf, sp, []string{"project", "resource"}); err != nil {
		t.Fatal(err)
	}
	golden(t, "spend.golden", buf.Bytes())
}

func TestAutoscalingSection(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ds := []client.AutoscalingDecision{
		{Project: "demo", Service: "web", MinReplicas: 1, MaxReplicas: 10, Decision: autoscaler.Decision{
			Time: now.Add(-5 * time.Second), Current: 2, Desired: 4,
			Metrics: []client.AutoscalingProposal{{Resource: "cpu", Utilization: 140, Target: 70, Replicas: 4}, {Resource: "memory", Utilization: 40, Target: 80, Replicas: 1}},
			Limit:   "within range", Reason: "metrics ask for 4"}},
		{Project: "demo", Service: "api", MinReplicas: 1, MaxReplicas: 5, Decision: autoscaler.Decision{
			Time: now.Add(-10 * time.Second), Current: 3, Desired: 3,
			Metrics: []client.AutoscalingProposal{{Resource: "cpu", Invalid: "missing request for cpu on api-0"}},
			Limit:   "missing request", Reason: "cpu metric invalid: missing request for cpu on api-0: set resources.cpu so utilization can be computed; keeping 3"}},
	}
	var buf bytes.Buffer
	if err := renderAutoscaling(&buf, ds, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "autoscaling.golden", buf.Bytes())
}

// A service that started minutes ago costs fractions of a cent: the table
// must not show it as free.
func TestSpendTableShowsSmallAmounts(t *testing.T) {
	sp := client.Spend{Currency: "USD", From: "2026-11-24T00:00:00Z", To: "2026-11-24T00:05:00Z", Total: 0.0031,
		Rows: []client.SpendRow{{Project: "demo", Cost: 0.0031}}}
	var buf bytes.Buffer
	if err := renderSpend(&buf, sp, []string{"project"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "0.0031") {
		t.Fatalf("a small spend shows as zero:\n%s", buf.String())
	}
}
