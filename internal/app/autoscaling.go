package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/store"
)

// AutoscalingPolicies maps the config's policies onto the autoscaler's, and
// checks that each targets a workload.
func AutoscalingPolicies(cfg *config.Config) (map[model.Ref]autoscaler.Policy, error) {
	workloads := map[model.Ref]bool{}
	for _, w := range cfg.Workloads {
		workloads[model.Ref{Project: w.Project, Service: w.Name}] = true
	}
	out := map[model.Ref]autoscaler.Policy{}
	for i, p := range cfg.Autoscaling.Policies {
		ref := model.Ref{Project: p.Target.Project, Service: p.Target.Service}
		if cfg.Platform.Kind == config.PlatformLocal && !workloads[ref] {
			return nil, fmt.Errorf("autoscaling.policies[%d].target: no workload %s", i, ref)
		}
		ap := autoscaler.Policy{
			MinReplicas: p.MinReplicas, MaxReplicas: p.MaxReplicas,
			Behavior: autoscaler.Behavior{ScaleUp: rules(p.Behavior.ScaleUp), ScaleDown: rules(p.Behavior.ScaleDown)},
		}
		for _, m := range p.Metrics {
			ap.Metrics = append(ap.Metrics, autoscaler.Metric{Resource: autoscaler.Resource(m.Resource), TargetUtilization: m.TargetUtilization})
		}
		out[ref] = ap
	}
	return out, nil
}

func rules(r config.ScalingRules) autoscaler.Rules {
	out := autoscaler.Rules{
		StabilizationWindow: time.Duration(r.StabilizationWindowSeconds) * time.Second,
		SelectPolicy:        autoscaler.SelectPolicy(r.SelectPolicy),
		Tolerance:           r.Tolerance,
	}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, autoscaler.RatePolicy{Kind: autoscaler.RateKind(p.Type), Value: p.Value, Period: time.Duration(p.PeriodSeconds) * time.Second})
	}
	return out
}

// Requests maps each workload's resources onto the requests the autoscaler
// measures utilization against: cores and bytes. A workload without a
// request for a resource has none here, which the autoscaler reports as a
// missing request instead of guessing.
func Requests(cfg *config.Config) map[model.Ref]map[autoscaler.Resource]float64 {
	out := map[model.Ref]map[autoscaler.Resource]float64{}
	for _, w := range cfg.Workloads {
		r := map[autoscaler.Resource]float64{}
		if w.Resources.CPU > 0 {
			r[autoscaler.CPU] = float64(w.Resources.CPU) / 1000
		}
		if w.Resources.Memory > 0 {
			r[autoscaler.Memory] = float64(w.Resources.Memory)
		}
		out[model.Ref{Project: w.Project, Service: w.Name}] = r
	}
	return out
}

// autoscalingStates keeps each policy's windows in the state file.
type autoscalingStates struct {
	b *store.Bucket[autoscaler.State]
}

func (s autoscalingStates) LoadState(ref model.Ref) (autoscaler.State, bool, error) {
	return s.b.Get(ref.Project + "/" + ref.Service)
}

func (s autoscalingStates) SaveState(ref model.Ref, st autoscaler.State) error {
	return s.b.Put(ref.Project+"/"+ref.Service, st)
}

// newAutoscaling builds the autoscaling loop over the runtime.
func newAutoscaling(cfg *config.Config, p platform.Platform, usage autoscaler.UsageReader, db *store.DB, publish func(model.Event), reg prometheus.Registerer, log *slog.Logger) (*autoscaler.Loop, error) {
	policies, err := AutoscalingPolicies(cfg)
	if err != nil {
		return nil, err
	}
	loop, err := autoscaler.NewLoop(autoscaler.LoopOptions{
		Policies: policies,
		Source:   &autoscaler.PlatformSource{Platform: p, Usage: usage, Requests: Requests(cfg)},
		Scaler:   p,
		States:   autoscalingStates{store.NewBucket[autoscaler.State](db, "autoscaler")},
		Publish:  publish,
		Interval: cfg.Autoscaling.Interval.D(),
		Logger:   log,
	})
	if err != nil {
		return nil, err
	}
	// Each policy's bounds, targets, latest decision and decision counts
	// on /metrics.
	if reg != nil {
		if err := reg.Register(loop); err != nil {
			return nil, fmt.Errorf("autoscaler: register metrics: %w", err)
		}
	}
	return loop, nil
}
