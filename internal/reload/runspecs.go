package reload

import (
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
		out[model.Ref{Project: w.Project, Service: w.Name}] = runSpec(w)
	}
	return out
}

func runSpec(w config.Workload) model.RunSpec {
	return model.RunSpec{Command: w.Command, Env: w.Env, WorkingDir: w.WorkingDir}.Clone()
}

// withRunSpecsOf returns a copy of next whose workloads carry the run specs
// of the same workloads in started: what is left to compare once the run
// specs, which a reload rolls out as releases, are set aside.
func withRunSpecsOf(next, started *config.Config) *config.Config {
	out := *next
	out.Workloads = append([]config.Workload(nil), next.Workloads...)
	for i, w := range out.Workloads {
		for _, s := range started.Workloads {
			if s.Project == w.Project && s.Name == w.Name && s.RestartPolicy == config.RestartAlways && w.RestartPolicy == config.RestartAlways {
				out.Workloads[i].Command, out.Workloads[i].Env, out.Workloads[i].WorkingDir = s.Command, s.Env, s.WorkingDir
			}
		}
	}
	return &out
}

// changedRunSpecs are the run specs of next's services that were services
// in started too and whose run spec changed.
func changedRunSpecs(started, next *config.Config) map[model.Ref]model.RunSpec {
	before := ConfigRunSpecs(started)
	out := map[model.Ref]model.RunSpec{}
	for ref, spec := range ConfigRunSpecs(next) {
		if old, ok := before[ref]; ok && !old.Equal(spec) {
			out[ref] = spec
		}
	}
	return out
}
