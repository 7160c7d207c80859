package app_test

import (
	"testing"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/model"
)

// TestPolicyTolerances: behavior.scaleUp/scaleDown.tolerance from the file
// reach the autoscaler per direction, and a direction without one keeps the
// controller's 0.1.
func TestPolicyTolerances(t *testing.T) {
	cfg, err := app.ParseConfig([]byte(`
platform: {kind: kubernetes}
autoscaling:
  policies:
    - target: {project: shop, service: web}
      maxReplicas: 20
      behavior:
        scaleUp: {tolerance: 0.05}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policies, err := app.AutoscalingPolicies(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := policies[model.Ref{Project: "shop", Service: "web"}]
	if !ok {
		t.Fatalf("no policy for shop/web: %v", policies)
	}
	got := autoscaler.DefaultOptions().TolerancesFor(p.Behavior)
	if want := (autoscaler.Tolerances{ScaleDown: 0.1, ScaleUp: 0.05}); got != want {
		t.Errorf("tolerances %+v, want %+v", got, want)
	}
}
