package reload

import (
	"fmt"
	"maps"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
)

// ConfigRunSpecs are the run specs the config gives its services (workloads
// that restart always), the releases a config file makes.
func ConfigRunSpecs(cfg *config.Config) map[model.Ref]model.RunSpec {
	out := map[model.Ref]model.RunSpec{}
	for _, w := range cfg.Workloads {
		if w.RestartPolicy != config.RestartAlways {
			continue
		}
		out[model.Ref{Project: w.Project, Service: w.Name}] = RunSpec(cfg, w)
	}
	return out
}

// RunSpec is the run spec cfg gives w: its command and working directory,
// and the environment its groups and own env resolve to (config.Env), with
// each variable's source and whether it is a secret. This is where groups
// reach the release engine: a change of a group's data, priority or
// selector changes the specs of the services it selected or selects.
func RunSpec(cfg *config.Config, w config.Workload) model.RunSpec {
	spec := model.RunSpec{Command: w.Command, WorkingDir: w.WorkingDir, Env: map[string]string{}}
	for _, e := range cfg.Env(w) {
		spec.Env[e.Name] = e.Value.Value()
		if spec.Sources == nil {
			spec.Sources = map[string]model.EnvSource{}
		}
		spec.Sources[e.Name] = model.EnvSource{From: e.Source, Secret: e.Secret}
	}
	return spec.Clone()
}

// withRunSpecsOf returns a copy of next whose workloads carry the run specs
// of the same workloads in started, and whose groups are started's: what is
// left to compare once the run specs, which a reload rolls out as releases,
// are set aside. Tags select groups too; they are set aside as well unless
// a notification integration filters on them (its routing is built at
// start).
func withRunSpecsOf(next, started *config.Config) *config.Config {
	out := *next
	out.Groups = started.Groups
	tagsRoute := false
	for _, in := range next.Notifications.Integrations {
		tagsRoute = tagsRoute || len(in.Tags) > 0
	}
	out.Workloads = append([]config.Workload(nil), next.Workloads...)
	for i, w := range out.Workloads {
		for _, s := range started.Workloads {
			if s.Project == w.Project && s.Name == w.Name && s.RestartPolicy == config.RestartAlways && w.RestartPolicy == config.RestartAlways {
				out.Workloads[i].Command, out.Workloads[i].Env, out.Workloads[i].WorkingDir = s.Command, s.Env, s.WorkingDir
				if !tagsRoute {
					out.Workloads[i].Tags = s.Tags
				}
			}
		}
	}
	return &out
}

// serviceRunSpecs are the run specs of next's services that were services
// in started too. Each goes to the release engine, which compares it with
// the spec the config last gave (not with started's: after a change and
// its revert, the revert is a release too) and does nothing when it is
// the same.
func serviceRunSpecs(started, next *config.Config) map[model.Ref]model.RunSpec {
	before := ConfigRunSpecs(started)
	out := map[model.Ref]model.RunSpec{}
	for ref, spec := range ConfigRunSpecs(next) {
		if _, ok := before[ref]; ok {
			out[ref] = spec
		}
	}
	return out
}

// jobEnvChanges names the jobs whose environment next resolves otherwise
// than started: a job's environment is set when opshub starts.
func jobEnvChanges(started, next *config.Config) []string {
	var out []string
	for _, w := range next.Workloads {
		if w.RestartPolicy == config.RestartAlways {
			continue
		}
		for _, s := range started.Workloads {
			if s.Project == w.Project && s.Name == w.Name && s.RestartPolicy == w.RestartPolicy {
				if a, b := groupVars(RunSpec(started, s)), groupVars(RunSpec(next, w)); !maps.Equal(a, b) {
					out = append(out, fmt.Sprintf("groups (env of job %s/%s)", w.Project, w.Name))
				}
			}
		}
	}
	return out
}

// groupVars are the variables of spec that come from groups, with their
// sources: what a job's restart would change that "workloads" does not say.
func groupVars(spec model.RunSpec) map[string]string {
	out := map[string]string{}
	for k, src := range spec.Sources {
		if src.From != config.SourceWorkload {
			out[k] = src.From + "\x00" + spec.Env[k]
		}
	}
	return out
}
