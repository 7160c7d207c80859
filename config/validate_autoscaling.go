package config

import "time"

// autoscaling applies the API server's HorizontalPodAutoscaler validation.
func (v *validator) autoscaling(a Autoscaling) {
	if a.Interval.D() < time.Second {
		v.errorf("autoscaling.interval", "must be at least 1s, got %s", a.Interval.D())
	}
	targets := map[string]string{}
	for i, pol := range a.Policies {
		p := elem("autoscaling.policies", i)
		tp := child(p, "target")
		serviceOK := v.name(child(tp, "service"), pol.Target.Service)
		projectOK := v.name(child(tp, "project"), pol.Target.Project)
		if serviceOK && projectOK {
			v.unique(targets, pol.Target.Project+"/"+pol.Target.Service, tp, "autoscaling target")
			v.reference(child(tp, "service"), pol.Target.Project, pol.Target.Service)
		}
		v.atLeast(child(p, "minReplicas"), pol.MinReplicas, 1)
		switch {
		case pol.MaxReplicas == 0 && !v.given(child(p, "maxReplicas")):
			v.errorf(child(p, "maxReplicas"), "is required")
		case pol.MaxReplicas < pol.MinReplicas:
			v.errorf(child(p, "maxReplicas"), "must be at least minReplicas (%d), got %d", pol.MinReplicas, pol.MaxReplicas)
		}
		mp := child(p, "metrics")
		if len(pol.Metrics) == 0 {
			v.errorf(mp, "needs at least one metric")
		}
		resources := map[string]string{}
		for j, m := range pol.Metrics {
			ep := elem(mp, j)
			if v.oneOf(child(ep, "resource"), m.Resource, ResourceCPU, ResourceMemory) {
				if v.unique(resources, m.Resource, child(ep, "resource"), "metric") {
					v.request(child(ep, "resource"), pol.Target, m.Resource)
				}
			}
			v.atLeast(child(ep, "targetUtilization"), m.TargetUtilization, 1)
		}
		bp := child(p, "behavior")
		v.scalingRules(child(bp, "scaleUp"), pol.Behavior.ScaleUp)
		v.scalingRules(child(bp, "scaleDown"), pol.Behavior.ScaleDown)
	}
}

// request checks, on platform kind local, that the workload declares the
// resource a utilization target is a percentage of. Without it the HPA shows
// "<unknown>" and never scales; here it is an error before anything starts.
func (v *validator) request(path string, t Target, resource string) {
	if v.cfg.Platform.Kind != PlatformLocal {
		return
	}
	w, ok := v.workload(t.Project, t.Service)
	if !ok {
		return
	}
	switch {
	case resource == ResourceCPU && w.Resources.CPU == 0:
		v.errorf(path, "utilization of cpu needs resources.cpu on workload %s/%s", t.Project, t.Service)
	case resource == ResourceMemory && w.Resources.Memory == 0:
		v.errorf(path, "utilization of memory needs resources.memory on workload %s/%s", t.Project, t.Service)
	}
}

func (v *validator) scalingRules(path string, r ScalingRules) {
	v.between(child(path, "stabilizationWindowSeconds"), r.StabilizationWindowSeconds, 0, 3600)
	v.oneOf(child(path, "selectPolicy"), r.SelectPolicy, SelectMax, SelectMin, SelectDisabled)
	if r.Tolerance != nil && *r.Tolerance < 0 {
		v.errorf(child(path, "tolerance"), "must be greater than or equal to 0, got %v", *r.Tolerance)
	}
	pp := child(path, "policies")
	if len(r.Policies) == 0 {
		v.errorf(pp, "must specify at least one policy")
	}
	for i, pol := range r.Policies {
		ep := elem(pp, i)
		v.oneOf(child(ep, "type"), pol.Type, ScalingPods, ScalingPercent)
		v.atLeast(child(ep, "value"), pol.Value, 1)
		v.between(child(ep, "periodSeconds"), pol.PeriodSeconds, 1, 1800)
	}
}
