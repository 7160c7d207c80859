package app

import (
	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/platform/local"
	"github.com/opshub/opshub/server"
)

// Workloads maps the config's workloads onto the local runtime's types.
func Workloads(cfg *config.Config) []local.Workload {
	out := make([]local.Workload, 0, len(cfg.Workloads))
	for _, w := range cfg.Workloads {
		lw := local.Workload{
			Project:       w.Project,
			Name:          w.Name,
			Command:       append([]string(nil), w.Command...),
			Env:           w.Env,
			WorkingDir:    w.WorkingDir,
			Replicas:      w.ReplicaCount(),
			Port:          w.Port,
			CPUMilli:      int64(w.Resources.CPU),
			MemoryBytes:   int64(w.Resources.Memory),
			RestartPolicy: local.RestartPolicy(w.RestartPolicy),
			GracePeriod:   w.GracePeriod.D(),
		}
		for _, v := range w.Volumes {
			lw.Volumes = append(lw.Volumes, local.Volume{Name: v.Name, Path: v.Path, Capacity: int64(v.Capacity)})
		}
		out = append(out, lw)
	}
	return out
}

// Tokens maps the configured API tokens onto the server's.
func Tokens(cfg *config.Config) []server.Token {
	out := make([]server.Token, 0, len(cfg.Server.Tokens))
	for _, t := range cfg.Server.Tokens {
		st := server.Token{Name: t.Name, Value: t.Token.Value()}
		for _, s := range t.Scopes {
			st.Scopes = append(st.Scopes, server.Scope(s))
		}
		out = append(out, st)
	}
	return out
}

// InactiveSections lists the config sections that are set but whose feature
// this build does not run yet. They are validated all the same, so a config
// written today keeps working when the feature arrives.
func InactiveSections(cfg *config.Config) []string {
	var out []string
	if len(cfg.Sinks) > 0 {
		out = append(out, "sinks")
	}
	if len(cfg.Autoscaling.Policies) > 0 {
		out = append(out, "autoscaling")
	}
	if len(cfg.Release.Flows) > 0 {
		out = append(out, "release.flows")
	}
	if len(cfg.Spend.Alerts) > 0 {
		out = append(out, "spend.alerts")
	}
	for _, w := range cfg.Workloads {
		if w.Probes.Startup != nil || w.Probes.Readiness != nil || w.Probes.Liveness != nil {
			out = append(out, "workloads[].probes")
			break
		}
	}
	return out
}
