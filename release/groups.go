package release

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/opshub/opshub/model"
)

// Groups on a platform whose templates take them by reference (Kubernetes:
// envFrom of the groups' objects and a checksum annotation). The config
// gives each service a spec of its groups: Groups and GroupsChecksum, and,
// to say what changed, the variables they give it (Env, with Sources).
// That spec is kept as the service's config spec, sealed, and compared
// with the next one as ConfigChanged compares a workload's: a service is
// released only when what the config gives it changed, so a rollback or a
// deploy is not undone until the config changes again.

// Seal returns a copy of spec whose secret values are sealed, as the
// history keeps them; the values are remembered, so a release can be
// restored with them.
func (m *Manager) Seal(spec model.RunSpec) model.RunSpec { return m.sealer.seal(spec) }

// GroupsChanged rolls out the groups the config now gives a service (want:
// Groups, GroupsChecksum and the variables they give it) as a release
// triggered by config, whose reason names the groups that changed; nil
// when the config gives what it gave before, or the template takes those
// groups already.
func (m *Manager) GroupsChanged(ctx context.Context, ref model.Ref, want model.RunSpec) (*model.Release, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ensureHistoryLocked(ctx, ref)
	prev, ok, err := m.hist.configSpec(ref)
	if err != nil {
		return nil, err
	}
	if ok && prev.Equal(m.sealer.seal(want)) {
		return nil, nil
	}
	cur, err := m.opts.Platform.Template(ctx, ref.Project, ref.Service)
	if err != nil {
		return nil, specError(ref, err)
	}
	next := cur.Clone()
	next.Groups, next.GroupsChecksum = slices.Clone(want.Groups), want.GroupsChecksum
	if next.Equal(cur) {
		return nil, m.hist.setConfigSpec(ref, want)
	}
	if err := m.opts.Platform.CheckTemplate(ctx, ref.Project, ref.Service, next); err != nil {
		return nil, specError(ref, err)
	}
	if err := m.hist.setConfigSpec(ref, want); err != nil {
		return nil, err
	}
	hist, err := m.hist.list(ref)
	if err != nil {
		return nil, err
	}
	rel, err := m.startLocked(ctx, ref, hist, next, model.ReleaseTrigger{Kind: model.TriggerConfig}, m.groupsReason(prev, cur, want), 0)
	return &rel, err
}

// groupsReason says which groups changed for a service: those whose
// variables changed since the config last gave them (prev, sealed; empty
// the first time) and those the template takes (cur) or will take (next)
// and not the other.
func (m *Manager) groupsReason(prev, cur, next model.RunSpec) string {
	var names []string
	add := func(name string) {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sealed := m.sealer.seal(next)
	for k, v := range sealed.Env {
		if old, ok := prev.Env[k]; !ok || old != v || prev.Sources[k] != sealed.Sources[k] {
			add(strings.TrimPrefix(sealed.Sources[k].From, "group "))
			if ok {
				add(strings.TrimPrefix(prev.Sources[k].From, "group "))
			}
		}
	}
	for k := range prev.Env {
		if _, ok := sealed.Env[k]; !ok {
			add(strings.TrimPrefix(prev.Sources[k].From, "group "))
		}
	}
	for _, g := range cur.Groups {
		if !slices.Contains(next.Groups, g) {
			add(g.Name)
		}
	}
	for _, g := range next.Groups {
		if !slices.Contains(cur.Groups, g) {
			add(g.Name)
		}
	}
	slices.Sort(names)
	switch len(names) {
	case 0:
		return "config file changed: groups"
	case 1:
		return "config file changed: group " + names[0]
	}
	return fmt.Sprintf("config file changed: groups %s", strings.Join(names, ", "))
}
