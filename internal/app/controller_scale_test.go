package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
)

// TestRunScalesAWorkloadByHand checks the scale endpoint on one machine:
// the local runtime starts and stops instances, and a service that an
// autoscaling policy manages is scaled with a warning.
func TestRunScalesAWorkloadByHand(t *testing.T) {
	demo := demoBinary(t)
	cfg, err := app.ParseConfig(fmt.Appendf(nil, `
dataDir: %s
workloads:
  - name: worker
    project: demo
    command: [%s, --no-http]
    resources: {cpu: 100m}
    gracePeriod: 2s
  - name: web
    project: demo
    command: [%s, --no-http]
    resources: {cpu: 100m}
    gracePeriod: 2s
autoscaling:
  policies:
    - target: {project: demo, service: web}
      maxReplicas: 4
`, t.TempDir(), demo, demo), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := startRun(t, cfg, app.Options{})
	c, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	instances := func(name string, want int) {
		t.Helper()
		sinktest.WaitFor(t, 30*time.Second, fmt.Sprintf("demo/%s to have %d instances", name, want), func() bool {
			svc, err := c.Service(ctx, "demo", name)
			return err == nil && svc.Replicas == want && len(svc.Instances) == want
		})
	}
	instances("worker", 1)

	res, err := c.Scale(ctx, "demo", "worker", 3)
	if err != nil {
		t.Fatal(err)
	}
	if res.Previous != 1 || res.Replicas != 3 || res.Warning != "" {
		t.Errorf("scale answered %+v, want 1 → 3 without a warning", res)
	}
	instances("worker", 3)
	if _, err := c.Scale(ctx, "demo", "worker", 0); err != nil {
		t.Fatal(err)
	}
	instances("worker", 0)

	res, err = c.Scale(ctx, "demo", "web", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Warning, "autoscaling policy (min 1, max 4)") {
		t.Errorf("warning %q, want one naming the policy's bounds", res.Warning)
	}
	if _, err := c.Scale(ctx, "demo", "nope", 1); !client.NotFound(err) {
		t.Errorf("scaling an unknown service: %v, want not found", err)
	}
}
