package app_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestAutoscalingUnderLoad runs a service whose instances burn three times
// their CPU request: it must scale from 1 to its max, explaining each step,
// and come back to 1 after the scale-down window once the load stops.
func TestAutoscalingUnderLoad(t *testing.T) {
	demo := demoBinary(t)
	cfgText := fmt.Sprintf(`
dataDir: %s
workloads:
  - name: busy
    project: demo
    command: [%s, --listen, "127.0.0.1:${PORT}", --cpu, "0.3"]
    replicas: 1
    resources: {cpu: 100m}
    gracePeriod: 2s
autoscaling:
  interval: 1s
  policies:
    - target: {project: demo, service: busy}
      minReplicas: 1
      maxReplicas: 3
      metrics: [{resource: cpu, targetUtilization: 50}]
      behavior:
        scaleDown: {stabilizationWindowSeconds: 5, policies: [{type: Percent, value: 100, periodSeconds: 15}]}
`, t.TempDir(), demo)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	run := startRun(t, cfg, app.Options{MetricsInterval: time.Second})
	defer func() {
		if err := run.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	c, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}

	busy := func() model.Service {
		svc, _ := c.Service(context.Background(), "demo", "busy")
		return svc
	}
	sinktest.WaitFor(t, 60*time.Second, "the service to scale to its max of 3", func() bool {
		return busy().Replicas == 3
	})
	// The decisions that scaled it are in the recent history (20 passes).
	var scaledUp client.AutoscalingDecision
	sinktest.WaitFor(t, 5*time.Second, "the scale-up in the decision history", func() bool {
		ds, err := c.Autoscaling(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Desired > d.Current {
				scaledUp = d
			}
		}
		return scaledUp.Desired > scaledUp.Current
	})
	if len(scaledUp.Metrics) != 1 || scaledUp.Metrics[0].Utilization <= scaledUp.Metrics[0].Target ||
		scaledUp.Metrics[0].Replicas <= scaledUp.Current || scaledUp.Reason == "" {
		t.Errorf("the scale-up is not explained with the CPU utilization: %+v", scaledUp)
	}

	// Stop the load on every instance.
	sinktest.WaitFor(t, 20*time.Second, "every instance to take cpu=0", func() bool {
		ok := 0
		for _, in := range busy().Instances {
			resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/control?cpu=0", in.Port), "", nil)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok++
				}
			}
		}
		return ok == 3
	})
	var held client.AutoscalingDecision
	sinktest.WaitFor(t, 60*time.Second, "the service to come back to 1", func() bool {
		ds, _ := c.Autoscaling(context.Background(), true)
		for _, d := range ds {
			if d.Limit == "stabilization" && held.Time.IsZero() {
				held = d
			}
		}
		return busy().Replicas == 1
	})
	if held.Time.IsZero() {
		t.Errorf("the scale-down was never held by the stabilization window")
	}
}
