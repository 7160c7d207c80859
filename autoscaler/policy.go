package autoscaler

import (
	"fmt"
	"math"
	"time"
)

// Resource is a resource a policy scales on.
type Resource string

// The resources policies scale on.
const (
	CPU    Resource = "cpu"
	Memory Resource = "memory"
)

// Policy is one service's autoscaling policy, with the field names and
// defaults of an autoscaling/v2 HorizontalPodAutoscaler.
type Policy struct {
	MinReplicas int
	MaxReplicas int
	Metrics     []Metric
	Behavior    Behavior
}

// Metric is a resource utilization target, in percent of the request.
type Metric struct {
	Resource          Resource
	TargetUtilization int
}

// Behavior holds separate rules for scaling up and down.
type Behavior struct {
	ScaleUp   Rules
	ScaleDown Rules
}

// SelectPolicy chooses among a direction's policies.
type SelectPolicy string

// The select policies of HPAScalingRules.
const (
	SelectMax      SelectPolicy = "Max"
	SelectMin      SelectPolicy = "Min"
	SelectDisabled SelectPolicy = "Disabled"
)

// Rules are the HPAScalingRules of one direction.
type Rules struct {
	StabilizationWindow time.Duration
	SelectPolicy        SelectPolicy
	Policies            []RatePolicy
	// Tolerance, when set, replaces Options.Tolerance for this direction:
	// autoscaling/v2's behavior.scaleUp/scaleDown.tolerance. It must be at
	// least 0.
	Tolerance *float64
}

// RateKind is the unit of a rate policy.
type RateKind string

// The kinds of HPAScalingPolicy.
const (
	Pods    RateKind = "Pods"
	Percent RateKind = "Percent"
)

// RatePolicy limits the change within Period to Value pods or percent.
type RatePolicy struct {
	Kind   RateKind
	Value  int
	Period time.Duration
}

// DefaultBehavior is autoscaling/v2's default behavior: scale up at once by
// up to max(4 pods, 100 %) per 15 s; scale down after a 300 s window by up to
// 100 % per 15 s.
func DefaultBehavior() Behavior {
	return Behavior{
		ScaleUp: Rules{
			StabilizationWindow: 0,
			SelectPolicy:        SelectMax,
			Policies:            []RatePolicy{{Kind: Pods, Value: 4, Period: 15 * time.Second}, {Kind: Percent, Value: 100, Period: 15 * time.Second}},
		},
		ScaleDown: Rules{
			StabilizationWindow: 300 * time.Second,
			SelectPolicy:        SelectMax,
			Policies:            []RatePolicy{{Kind: Percent, Value: 100, Period: 15 * time.Second}},
		},
	}
}

// Validate checks a policy as the API server validates an HPA, reporting
// every problem at once.
func (p Policy) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if p.MinReplicas < 1 {
		add("minReplicas must be at least 1, got %d", p.MinReplicas)
	}
	if p.MaxReplicas < 1 {
		add("maxReplicas must be at least 1, got %d", p.MaxReplicas)
	}
	if p.MaxReplicas < p.MinReplicas {
		add("maxReplicas (%d) must be at least minReplicas (%d)", p.MaxReplicas, p.MinReplicas)
	}
	if len(p.Metrics) == 0 {
		add("at least one metric is required")
	}
	seen := map[Resource]bool{}
	for i, m := range p.Metrics {
		if m.Resource != CPU && m.Resource != Memory {
			add("metrics[%d].resource must be cpu or memory, got %q", i, m.Resource)
		}
		if seen[m.Resource] {
			add("metrics[%d].resource %s is listed twice", i, m.Resource)
		}
		seen[m.Resource] = true
		if m.TargetUtilization <= 0 {
			add("metrics[%d].targetUtilization must be greater than 0, got %d", i, m.TargetUtilization)
		}
	}
	for _, d := range []struct {
		dir string
		r   Rules
	}{{"scaleUp", p.Behavior.ScaleUp}, {"scaleDown", p.Behavior.ScaleDown}} {
		dir, r := d.dir, d.r
		if r.StabilizationWindow < 0 || r.StabilizationWindow > time.Hour {
			add("behavior.%s.stabilizationWindowSeconds must be between 0 and 3600, got %d", dir, int(r.StabilizationWindow/time.Second))
		}
		switch r.SelectPolicy {
		case SelectMax, SelectMin, SelectDisabled:
		default:
			add("behavior.%s.selectPolicy must be Max, Min or Disabled, got %q", dir, r.SelectPolicy)
		}
		if t := r.Tolerance; t != nil && (math.IsNaN(*t) || math.IsInf(*t, 0) || *t < 0) {
			add("behavior.%s.tolerance must be a number greater than or equal to 0, got %v", dir, *r.Tolerance)
		}
		if len(r.Policies) == 0 && r.SelectPolicy != SelectDisabled {
			add("behavior.%s.policies must not be empty", dir)
		}
		for i, rp := range r.Policies {
			if rp.Kind != Pods && rp.Kind != Percent {
				add("behavior.%s.policies[%d].type must be Pods or Percent, got %q", dir, i, rp.Kind)
			}
			if rp.Value <= 0 {
				add("behavior.%s.policies[%d].value must be greater than 0, got %d", dir, i, rp.Value)
			}
			if rp.Period <= 0 || rp.Period > 30*time.Minute {
				add("behavior.%s.policies[%d].periodSeconds must be between 1 and 1800, got %d", dir, i, int(rp.Period/time.Second))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &PolicyError{Problems: errs}
}

// PolicyError lists everything wrong with a policy.
type PolicyError struct{ Problems []string }

func (e *PolicyError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid autoscaling policy: " + e.Problems[0]
	}
	s := fmt.Sprintf("invalid autoscaling policy (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  " + p
	}
	return s
}
