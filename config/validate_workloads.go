package config

import (
	"fmt"
	"regexp"
	"strings"
)

func (v *validator) workloads(ws []Workload) {
	names := map[string]string{}
	ports := map[int]string{}
	for i, w := range ws {
		p := elem("workloads", i)
		nameOK := v.name(child(p, "name"), w.Name)
		projectOK := v.name(child(p, "project"), w.Project)
		if nameOK && projectOK {
			v.unique(names, w.Project+"/"+w.Name, child(p, "name"), "workload")
		}
		if len(w.Command) == 0 {
			v.errorf(child(p, "command"), "is required: the program and its arguments")
		} else if w.Command[0] == "" {
			v.errorf(elem(child(p, "command"), 0), "must name a program")
		}
		if w.Replicas != nil && *w.Replicas < 0 {
			v.errorf(child(p, "replicas"), "must be 0 or more")
		}
		v.port(child(p, "port"), w.Port)
		if w.Port > 0 && w.Port <= 65535 {
			if first, dup := ports[w.Port]; dup {
				v.errorf(child(p, "port"), "port %d is already used by %s", w.Port, v.at(first))
			} else {
				ports[w.Port] = child(p, "port")
			}
		}
		v.env(child(p, "env"), w.Env, true)
		v.workloadTags(p, w.Tags)
		v.oneOf(child(p, "restartPolicy"), w.RestartPolicy, RestartAlways, RestartOnFailure, RestartNever)
		v.job(p, w)
		volumes := map[string]string{}
		for j, vol := range w.Volumes {
			vp := elem(child(p, "volumes"), j)
			if v.name(child(vp, "name"), vol.Name) {
				v.unique(volumes, vol.Name, child(vp, "name"), "volume")
			}
			if vol.Capacity <= 0 {
				if v.given(child(vp, "capacity")) {
					v.errorf(child(vp, "capacity"), "must be more than 0")
				} else {
					v.errorf(child(vp, "capacity"), "is required, such as 1Gi")
				}
			}
		}
		v.strategy(child(p, "strategy"), w)
		pp := child(p, "probes")
		v.probe(child(pp, "startup"), w.Probes.Startup, "startup")
		v.probe(child(pp, "readiness"), w.Probes.Readiness, "readiness")
		v.probe(child(pp, "liveness"), w.Probes.Liveness, "liveness")
	}
}

// strategy checks a workload's update strategy as the API server checks a
// Deployment's, and keeps two instances off one volume.
func (v *validator) strategy(p string, w Workload) {
	if w.Strategy.Type != "" {
		v.oneOf(child(p, "type"), w.Strategy.Type, StrategyRollingUpdate, StrategyRecreate)
	}
	if w.StrategyType() == StrategyRollingUpdate {
		if len(w.Volumes) > 0 {
			v.errorf(child(p, "type"), "RollingUpdate would run two instances on one volume; a workload with volumes uses Recreate")
		}
		surge, unavailable := w.Strategy.Surge()
		if surge < 0 {
			v.errorf(child(p, "maxSurge"), "must be 0 or more")
		}
		if unavailable < 0 {
			v.errorf(child(p, "maxUnavailable"), "must be 0 or more")
		}
		if surge == 0 && unavailable == 0 {
			v.errorf(child(p, "maxUnavailable"), "may not be 0 when maxSurge is 0")
		}
	}
	if w.Strategy.MinReadySeconds < 0 {
		v.errorf(child(p, "minReadySeconds"), "must be 0 or more")
	}
}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// probe applies the API server's probe validation.
func (v *validator) probe(path string, p *Probe, which string) {
	if p == nil {
		return
	}
	var handlers []string
	if p.HTTP != nil {
		handlers = append(handlers, "http")
		hp := child(path, "http")
		if !strings.HasPrefix(p.HTTP.Path, "/") {
			v.errorf(child(hp, "path"), "must start with /, got %q", truncate(p.HTTP.Path, 40))
		}
		v.port(child(hp, "port"), p.HTTP.Port)
		v.oneOf(child(hp, "scheme"), p.HTTP.Scheme, "HTTP", "HTTPS")
		for _, k := range sortedKeys(p.HTTP.Headers) {
			if !headerName.MatchString(k) {
				v.errorf(child(child(hp, "headers"), k), "is not a valid HTTP header name")
			}
		}
	}
	if p.TCP != nil {
		handlers = append(handlers, "tcp")
		v.port(child(child(path, "tcp"), "port"), p.TCP.Port)
	}
	if p.Exec != nil {
		handlers = append(handlers, "exec")
		if len(p.Exec.Command) == 0 || p.Exec.Command[0] == "" {
			v.errorf(child(child(path, "exec"), "command"), "is required: the program and its arguments")
		}
	}
	if p.GRPC != nil {
		handlers = append(handlers, "grpc")
		v.port(child(child(path, "grpc"), "port"), p.GRPC.Port)
	}
	switch len(handlers) {
	case 0:
		v.errorf(path, "needs one of http, tcp, exec or grpc")
	case 1:
	default:
		v.errorf(path, "has %s; give exactly one of http, tcp, exec or grpc", strings.Join(handlers, " and "))
	}
	v.atLeast(child(path, "initialDelaySeconds"), p.InitialDelaySeconds, 0)
	v.atLeast(child(path, "periodSeconds"), p.PeriodSeconds, 1)
	v.atLeast(child(path, "timeoutSeconds"), p.TimeoutSeconds, 1)
	v.atLeast(child(path, "failureThreshold"), p.FailureThreshold, 1)
	if (which == "liveness" || which == "startup") && p.SuccessThreshold != 1 {
		v.errorf(child(path, "successThreshold"), "must be 1 for %s probes, got %d", which, p.SuccessThreshold)
	} else {
		v.atLeast(child(path, "successThreshold"), p.SuccessThreshold, 1)
	}
}

// workload finds a workload by project and name, for checks of references.
func (v *validator) workload(project, name string) (Workload, bool) {
	for _, w := range v.cfg.Workloads {
		if w.Project == project && w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// reference checks, on platform kind local, that a service named elsewhere
// in the config is one of the workloads.
func (v *validator) reference(path, project, service string) {
	if v.cfg.Platform.Kind != PlatformLocal || service == "" {
		return
	}
	if _, ok := v.workload(project, service); !ok {
		v.errorf(path, "%s", fmt.Sprintf("no workload %q in project %q", service, project))
	}
}
