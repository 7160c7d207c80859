package config

import (
	"slices"
)

// EnvVar is one variable of a workload's environment as the config makes
// it: its value, whether that value is a secret, and where it came from.
type EnvVar struct {
	Name  string
	Value Secret
	// Secret is true for a value from a secret group.
	Secret bool
	// Source is SourceWorkload or "group NAME".
	Source string
}

// SourceWorkload is the source of a variable of a workload's own env.
const SourceWorkload = "workload"

// GroupSource is the source of a variable set by the group name.
func GroupSource(name string) string { return "group " + name }

// Selects reports whether the group's selector picks w.
func (g Group) Selects(w Workload) bool {
	s := g.Selector
	if len(s.Projects) == 0 && len(s.Services) == 0 && len(s.Tags) == 0 {
		return false
	}
	if len(s.Projects) > 0 && !slices.Contains(s.Projects, w.Project) {
		return false
	}
	if len(s.Services) > 0 && !slices.Contains(s.Services, w.Name) {
		return false
	}
	if len(s.Tags) > 0 && !slices.ContainsFunc(s.Tags, func(t string) bool { return slices.Contains(w.Tags, t) }) {
		return false
	}
	return true
}

// GroupsOf returns the indexes in c.Groups of the groups that select w,
// lowest priority first (in file order within a priority).
func (c *Config) GroupsOf(w Workload) []int {
	var out []int
	for i, g := range c.Groups {
		if g.Selects(w) {
			out = append(out, i)
		}
	}
	slices.SortStableFunc(out, func(a, b int) int { return c.Groups[a].Priority - c.Groups[b].Priority })
	return out
}

// Env resolves the environment the config gives w's instances, sorted by
// name: the groups that select it, lowest priority first so that a higher
// priority wins on a shared key, then the workload's own env, which always
// wins. (Validation refuses two groups of one priority setting one key for
// a workload; here the later group in the file would win.)
func (c *Config) Env(w Workload) []EnvVar {
	byName := map[string]EnvVar{}
	for _, i := range c.GroupsOf(w) {
		g := c.Groups[i]
		for k, v := range g.Vars() {
			byName[k] = EnvVar{Name: k, Value: v, Secret: g.Kind != GroupConfig, Source: GroupSource(g.Name)}
		}
	}
	for k, v := range w.Env {
		byName[k] = EnvVar{Name: k, Value: Secret(v), Source: SourceWorkload}
	}
	out := make([]EnvVar, 0, len(byName))
	for _, k := range sortedKeys(byName) {
		out = append(out, byName[k])
	}
	return out
}
