package app

import (
	"maps"
	"slices"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/reload"
	"github.com/opshub/opshub/platform/local"
	"github.com/opshub/opshub/probes"
	"github.com/opshub/opshub/server"
)

// Workloads maps the config's workloads onto the local runtime's types.
func Workloads(cfg *config.Config) []local.Workload {
	out := make([]local.Workload, 0, len(cfg.Workloads))
	for _, w := range cfg.Workloads {
		spec := reload.RunSpec(cfg, w) // the env with the groups that select it
		lw := local.Workload{
			Project:       w.Project,
			Name:          w.Name,
			Command:       append([]string(nil), w.Command...),
			Env:           spec.Env,
			EnvSources:    spec.Sources,
			WorkingDir:    w.WorkingDir,
			Replicas:      w.ReplicaCount(),
			Port:          w.Port,
			CPUMilli:      int64(w.Resources.CPU),
			MemoryBytes:   int64(w.Resources.Memory),
			RestartPolicy: local.RestartPolicy(w.RestartPolicy),
			GracePeriod:   w.GracePeriod.D(),
			Probes: probes.Set{
				Startup:   probeSpec(w.Probes.Startup),
				Readiness: probeSpec(w.Probes.Readiness),
				Liveness:  probeSpec(w.Probes.Liveness),
			},
		}
		surge, unavailable := w.Strategy.Surge()
		lw.Strategy = local.Strategy{
			Type:           local.StrategyType(w.StrategyType()),
			MaxSurge:       surge,
			MaxUnavailable: unavailable,
			MinReady:       time.Duration(w.Strategy.MinReadySeconds) * time.Second,
		}
		if w.IsJob() {
			// Package jobs starts a job's runs (at start, on demand, on
			// its schedule), each as an instance of its own.
			lw.Replicas = 0
		}
		for _, v := range w.Volumes {
			lw.Volumes = append(lw.Volumes, local.Volume{Name: v.Name, Path: v.Path, Capacity: int64(v.Capacity)})
		}
		out = append(out, lw)
	}
	return out
}

// probeSpec maps one configured probe onto package probes' type; nil stays nil.
func probeSpec(p *config.Probe) *probes.Spec {
	if p == nil {
		return nil
	}
	s := &probes.Spec{
		InitialDelay:     time.Duration(p.InitialDelaySeconds) * time.Second,
		Period:           time.Duration(p.PeriodSeconds) * time.Second,
		Timeout:          time.Duration(p.TimeoutSeconds) * time.Second,
		SuccessThreshold: p.SuccessThreshold,
		FailureThreshold: p.FailureThreshold,
	}
	switch {
	case p.HTTP != nil:
		s.HTTP = &probes.HTTPAction{Path: p.HTTP.Path, Port: p.HTTP.Port, Scheme: p.HTTP.Scheme, Headers: maps.Clone(p.HTTP.Headers)}
	case p.TCP != nil:
		s.TCP = &probes.TCPAction{Port: p.TCP.Port}
	case p.Exec != nil:
		s.Exec = &probes.ExecAction{Command: slices.Clone(p.Exec.Command)}
	case p.GRPC != nil:
		s.GRPC = &probes.GRPCAction{Port: p.GRPC.Port, Service: p.GRPC.Service}
	}
	return s
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
	if len(cfg.Release.Flows) > 0 && cfg.Platform.Kind != config.PlatformLocal {
		out = append(out, "release.flows (on Kubernetes)")
	}
	return out
}

// serverLimits maps server.limits onto the API's limits; the others keep
// server.DefaultLimits.
func serverLimits(cfg *config.Config) server.Limits {
	return server.Limits{
		MaxTails:          cfg.Server.Limits.MaxTails,
		MaxTailsPerClient: cfg.Server.Limits.MaxTailsPerClient,
		MaxQueryRange:     cfg.Server.Limits.MaxQueryRange.D(),
	}
}
