package config

import (
	"fmt"
	"slices"
	"strings"
)

// groups checks each group, then, on platform kind local, that no two
// groups of one priority set one key for one workload.
func (v *validator) groups(gs []Group) {
	names := map[string]string{}
	for i, g := range gs {
		p := elem("groups", i)
		if v.name(child(p, "name"), g.Name) {
			v.unique(names, g.Name, child(p, "name"), "group name")
		}
		v.oneOf(child(p, "kind"), g.Kind, GroupSecret, GroupConfig)
		v.between(child(p, "priority"), g.Priority, 0, MaxGroupPriority)
		sp := child(p, "selector")
		for j, pr := range g.Selector.Projects {
			v.name(elem(child(sp, "projects"), j), pr)
		}
		for j, s := range g.Selector.Services {
			v.name(elem(child(sp, "services"), j), s)
		}
		for j, t := range g.Selector.Tags {
			v.tag(elem(child(sp, "tags"), j), t)
		}
		if len(g.Data) == 0 && g.FromEnvFile == "" && !v.given(child(p, "data")) {
			v.errorf(p, "needs data or fromEnvFile: the variables the group sets")
		}
		v.envNames(child(p, "data"), sortedKeys(g.Data), true)
		for _, k := range sortedKeys(g.FileData) {
			if k == "PORT" || strings.HasPrefix(k, "OPSHUB_") {
				v.errorf(child(p, "fromEnvFile"), "sets %s, which opshub sets for each instance and cannot be overridden", k)
			}
		}
	}
	if v.cfg.Platform.Kind == PlatformLocal {
		v.groupTies()
	}
}

// tag checks a workload tag or a tag in a selector: a DNS label.
func (v *validator) tag(path, t string) {
	v.name(path, t)
}

// groupTies reports two groups of the same priority that set the same key
// for a workload, once per pair and key, naming both groups and the
// workloads concerned.
func (v *validator) groupTies() {
	type tie struct {
		first, second int
		key           string
	}
	var order []tie
	workloads := map[tie][]string{}
	for _, w := range v.cfg.Workloads {
		setBy := map[string]int{} // key → group index, within one priority
		prio := -1
		for _, i := range v.cfg.GroupsOf(w) {
			g := v.cfg.Groups[i]
			if g.Priority != prio {
				prio, setBy = g.Priority, map[string]int{}
			}
			for _, k := range sortedKeys(g.Vars()) {
				first, dup := setBy[k]
				if !dup {
					setBy[k] = i
					continue
				}
				t := tie{first: first, second: i, key: k}
				if _, ok := workloads[t]; !ok {
					order = append(order, t)
				}
				workloads[t] = append(workloads[t], w.Project+"/"+w.Name)
			}
		}
	}
	for _, t := range order {
		a, b := v.cfg.Groups[t.first], v.cfg.Groups[t.second]
		ws := workloads[t]
		slices.Sort(ws)
		noun := "workload"
		if len(ws) > 1 {
			noun = "workloads"
		}
		first := fmt.Sprintf("group %q", a.Name)
		if l := v.rep.lines.line(v.groupKeyPath(t.first, t.key)); l > 0 {
			first += fmt.Sprintf(" (line %d)", l)
		}
		v.errorf(v.groupKeyPath(t.second, t.key), "%s is set at priority %d by both %s and group %q for %s %s: give one of them another priority, or remove %s from one",
			t.key, b.Priority, first, b.Name, noun, strings.Join(ws, ", "), t.key)
	}
}

// groupKeyPath is where group i sets key: under data, or its fromEnvFile.
func (v *validator) groupKeyPath(i int, key string) string {
	p := elem("groups", i)
	if _, ok := v.cfg.Groups[i].Data[key]; ok {
		return child(child(p, "data"), key)
	}
	return child(p, "fromEnvFile")
}

// workloadTags checks a workload's tags.
func (v *validator) workloadTags(p string, tags []string) {
	seen := map[string]string{}
	for j, t := range tags {
		tp := elem(child(p, "tags"), j)
		if v.name(tp, t) {
			v.unique(seen, t, tp, "tag")
		}
	}
}
