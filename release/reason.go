package release

import (
	"slices"
	"strings"

	"github.com/opshub/opshub/model"
)

// configReason says why a config release starts: "config file changed",
// then what changed in the spec the config gives the service since the one
// it gave before (prev, sealed; had is false when there was none): the
// groups whose variables changed, before or after, and "workload" for the
// workload's own env, command or working directory ("config file changed:
// group db", "config file changed: workload, groups cache, db").
func (m *Manager) configReason(prev model.RunSpec, had bool, next model.RunSpec) string {
	const base = "config file changed"
	if !had {
		return base
	}
	sealed := m.sealer.seal(next)
	var groups []string
	workload := !slices.Equal(prev.Command, next.Command) || prev.WorkingDir != next.WorkingDir
	note := func(from string) {
		switch {
		case strings.HasPrefix(from, "group "):
			if g := strings.TrimPrefix(from, "group "); !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		default:
			workload = true
		}
	}
	for k, v := range sealed.Env {
		if old, ok := prev.Env[k]; !ok || old != v {
			note(sealed.Sources[k].From)
			if ok {
				note(prev.Sources[k].From)
			}
		}
	}
	for k := range prev.Env {
		if _, ok := sealed.Env[k]; !ok {
			note(prev.Sources[k].From)
		}
	}
	var parts []string
	if workload {
		parts = append(parts, model.SourceWorkload)
	}
	slices.Sort(groups)
	switch len(groups) {
	case 0:
	case 1:
		parts = append(parts, "group "+groups[0])
	default:
		parts = append(parts, "groups "+strings.Join(groups, ", "))
	}
	if len(parts) == 0 {
		return base
	}
	return base + ": " + strings.Join(parts, ", ")
}
