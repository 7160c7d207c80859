package config

import (
	"maps"
)

// Group is environment shared by the workloads its selector picks, as
// Northflank's secret and config groups: data and/or the KEY=VALUE lines of
// fromEnvFile (data wins on a key both give). See Env for how groups and a
// workload's own env make the environment of its instances.
type Group struct {
	// Name is a DNS label, unique among groups; sources and release
	// reasons name the group by it.
	Name string `yaml:"name"`
	// Kind is "secret" (values never printed) or "config".
	Kind string `yaml:"kind"`
	// Priority is 0-100 (default 0): on a key two groups both set for a
	// workload, the higher priority wins; the same priority is an error.
	Priority int           `yaml:"priority"`
	Selector GroupSelector `yaml:"selector"`
	// Data are the variables. A key "<NAME>File" reads the file it names
	// into NAME, as other *File secrets are read. Values keep the
	// per-instance variables (${PORT}, …) for run time, as a workload's env
	// does.
	Data map[string]Secret `yaml:"data,omitempty" config:"keepinstance"`
	// FromEnvFile is a file of KEY=VALUE lines (see parseEnvFile).
	FromEnvFile string `yaml:"fromEnvFile,omitempty"`
	// FileData are the variables read from FromEnvFile when the config was
	// loaded; a reload reads the file again.
	FileData map[string]Secret `yaml:"-" json:"-"`
}

// GroupSelector picks workloads: every field that lists something must
// match (the workload's project is one of Projects, its name one of
// Services, one of its tags one of Tags). A selector that lists nothing
// matches nothing.
type GroupSelector struct {
	Projects []string `yaml:"projects,omitempty"`
	Services []string `yaml:"services,omitempty"`
	Tags     []string `yaml:"tags,omitempty"`
}

// Group kinds.
const (
	GroupSecret = "secret"
	GroupConfig = "config"
)

// MaxGroupPriority is the highest priority a group may have.
const MaxGroupPriority = 100

// Vars returns the group's variables: the file's, then data over them.
func (g Group) Vars() map[string]Secret {
	out := maps.Clone(g.FileData)
	if out == nil {
		out = map[string]Secret{}
	}
	maps.Copy(out, g.Data)
	return out
}

// MarshalYAML prints the values of a config group as they are and those of
// a secret group (or of a group of an unknown kind) as "<secret>".
func (g Group) MarshalYAML() (any, error) {
	type plain struct {
		Name        string            `yaml:"name"`
		Kind        string            `yaml:"kind"`
		Priority    int               `yaml:"priority"`
		Selector    GroupSelector     `yaml:"selector"`
		Data        map[string]string `yaml:"data,omitempty"`
		FromEnvFile string            `yaml:"fromEnvFile,omitempty"`
	}
	p := plain{Name: g.Name, Kind: g.Kind, Priority: g.Priority, Selector: g.Selector, FromEnvFile: g.FromEnvFile}
	if len(g.Data) > 0 {
		p.Data = make(map[string]string, len(g.Data))
		for k, v := range g.Data {
			if g.Kind == GroupConfig {
				p.Data[k] = v.Value()
			} else {
				p.Data[k] = v.String()
			}
		}
	}
	return p, nil
}
