package release

import (
	"context"
	"fmt"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// syncEvery is how often the Manager compares what a platform that keeps
// its own revisions runs (platform.ExternalReleaser) with the history.
const syncEvery = time.Second

// syncLocked brings the history of every service of an ExternalReleaser in
// line with what the platform runs, from its caches:
//   - a service seen for the first time gets its history from the
//     platform's own revisions (triggered by external), the current
//     template last: followed when instances of older templates are still
//     being replaced, else succeeded;
//   - a release left progressing (by a controller that stopped or lost
//     its lead) is followed again, with its deadline; when its template
//     never reached the platform, it is written now;
//   - a template that differs from the last release's spec, changed by
//     someone else (kubectl, a GitOps tool), is a new release triggered
//     by external; one in progress is superseded by it.
func (m *Manager) syncLocked(ctx context.Context, ext platform.ExternalReleaser) {
	observed, err := ext.ObservedTemplates(ctx)
	if err != nil {
		m.log.Warn("read templates", "error", err)
		return
	}
	// The first look reads every history at once; later ones read only
	// the history of a service whose template changed since it agreed.
	first := m.agreed == nil
	var all map[model.Ref][]model.Release
	if first {
		if all, err = m.hist.all(); err != nil {
			m.log.Warn("read releases", "error", err)
			return
		}
		m.agreed = map[model.Ref]model.RunSpec{}
	}
	// The histories of services seen for the first time (all of them on
	// a new leader's first look) are written importBatch services to a
	// transaction: each write of a replicated state is a copy of it.
	var imports importBatch
	for _, o := range observed {
		ref := model.Ref{Project: o.Project, Service: o.Service}
		m.metrics.known(ref.Project, ref.Service)
		m.sealer.remember(o.Spec)
		sealed := m.sealer.seal(o.Spec) // the history's specs are sealed
		if err := m.syncOneLocked(ctx, ext, ref, o, sealed, first, all[ref], &imports); err != nil {
			m.log.Warn("record releases", "project", ref.Project, "service", ref.Service, "error", err)
		}
		if len(imports) >= importBatchSize {
			m.recordImportsLocked(imports)
			imports = imports[:0]
		}
	}
	m.recordImportsLocked(imports)
}

// importBatchSize is how many services' imported histories one state
// transaction writes at most.
const importBatchSize = 250

// importBatch holds the histories imported but not yet written.
type importBatch []imported

// imported is the history of a service seen for the first time, its last
// release the template the platform runs (sealed: what agreed records).
type imported struct {
	ref    model.Ref
	sealed model.RunSpec
	rels   []model.Release
}

// recordImportsLocked writes the histories of b in one transaction; a
// service whose history could not be written is imported again on the next
// look.
func (m *Manager) recordImportsLocked(b importBatch) {
	if len(b) == 0 {
		return
	}
	var rels []model.Release
	for _, im := range b {
		rels = append(rels, im.rels...)
	}
	if err := m.hist.put(rels...); err != nil {
		m.log.Warn("record the histories of services seen for the first time", "services", len(b), "error", err)
		return
	}
	for _, im := range b {
		cur := im.rels[len(im.rels)-1]
		m.agreed[im.ref] = im.sealed
		if cur.State == model.ReleaseProgressing {
			c := cur
			m.active[im.ref] = &c
			m.metrics.inProgress.WithLabelValues(im.ref.Project, im.ref.Service).Set(1)
		}
		m.log.Debug("history recorded", "project", im.ref.Project, "service", im.ref.Service, "releases", len(im.rels), "state", cur.State)
	}
	m.log.Info("histories recorded for services seen for the first time", "services", len(b), "releases", len(rels))
}

func (m *Manager) syncOneLocked(ctx context.Context, ext platform.ExternalReleaser, ref model.Ref, o platform.ObservedTemplate, sealed model.RunSpec, first bool, hist []model.Release, imports *importBatch) error {
	if a := m.active[ref]; a != nil {
		if !o.Settled || a.Spec.Equal(sealed) {
			return nil
		}
		hist, err := m.hist.list(ref)
		if err != nil {
			return err
		}
		return m.externalLocked(ctx, ref, hist, o)
	}
	if prev, ok := m.agreed[ref]; ok && prev.Equal(sealed) {
		return nil
	}
	if !first {
		var err error
		if hist, err = m.hist.list(ref); err != nil {
			return err
		}
	}
	var err error
	switch {
	case len(hist) == 0:
		// agreed once the batch is written
		return m.importLocked(ctx, ext, ref, o, sealed, imports)
	case hist[0].State == model.ReleaseProgressing:
		err = m.resumeLocked(ctx, ref, hist[0], o)
	case !o.Settled:
		return nil
	case !hist[0].Spec.Equal(sealed):
		err = m.externalLocked(ctx, ref, hist, o)
	}
	if err == nil {
		m.agreed[ref] = sealed
	}
	return err
}

// ensureHistoryLocked records the history of a service that has none yet
// on an ExternalReleaser, before a deploy, a rollback or a listing: a
// request may come before Run's first look at the platform.
func (m *Manager) ensureHistoryLocked(ctx context.Context, ref model.Ref) {
	ext, ok := m.opts.Platform.(platform.ExternalReleaser)
	if !ok {
		return
	}
	if hist, err := m.hist.list(ref); err != nil || len(hist) > 0 {
		return
	}
	m.syncLocked(ctx, ext)
}

// importLocked adds the history of a service seen for the first time to
// imports.
func (m *Manager) importLocked(ctx context.Context, ext platform.ExternalReleaser, ref model.Ref, o platform.ObservedTemplate, sealed model.RunSpec, imports *importBatch) error {
	revs, err := ext.Revisions(ctx, ref.Project, ref.Service)
	if err != nil {
		return err
	}
	now := m.now().UTC()
	var rels []model.Release
	for _, r := range revs {
		if r.Spec.Equal(o.Spec) {
			continue // the current template, recorded last
		}
		created := r.Created
		reason := fmt.Sprintf("revision %d of the platform, rolled out before opshub watched", r.Revision)
		if r.Cause != "" {
			reason += ": " + r.Cause
		}
		rels = append(rels, model.Release{
			Project: ref.Project, Service: ref.Service, Revision: len(rels) + 1, State: model.ReleaseSucceeded,
			Spec: r.Spec, Trigger: model.ReleaseTrigger{Kind: model.TriggerExternal}, Started: created, Finished: &created,
			Reason: reason, PlatformRevision: r.Revision,
		})
	}
	cur := model.Release{
		Project: ref.Project, Service: ref.Service, Revision: len(rels) + 1, State: model.ReleaseSucceeded,
		Spec: o.Spec, Trigger: model.ReleaseTrigger{Kind: model.TriggerExternal, By: o.By}, Started: now, Finished: &now,
		Reason: "running when opshub first saw it",
	}
	if len(revs) > 0 && revs[len(revs)-1].Spec.Equal(o.Spec) {
		cur.Started, cur.PlatformRevision = revs[len(revs)-1].Created, revs[len(revs)-1].Revision
	}
	// Followed only when instances of older templates are still being
	// replaced: unready or crashing instances alone are a health matter
	// (container.* events), not a rollout opshub saw start.
	st, err := m.opts.Platform.RolloutProgress(ctx, ref.Project, ref.Service)
	if err == nil && !st.Done && st.Old > 0 {
		deadline := now.Add(m.opts.ProgressDeadline)
		cur.State, cur.Finished, cur.Deadline, cur.Started = model.ReleaseProgressing, nil, &deadline, now
		cur.Reason = "rolling out when opshub first saw it"
	}
	*imports = append(*imports, imported{ref: ref, sealed: sealed, rels: append(rels, cur)})
	return nil
}

// resumeLocked follows a release that was left progressing again; its
// template is written when the platform does not run it (the previous
// controller stopped between recording the release and writing it).
func (m *Manager) resumeLocked(ctx context.Context, ref model.Ref, rel model.Release, o platform.ObservedTemplate) error {
	if !m.sealer.seal(o.Spec).Equal(rel.Spec) && o.Unmanaged == "" {
		spec, err := m.sealer.unseal(rel.Spec)
		if err != nil {
			return err
		}
		if err := m.opts.Platform.SetTemplate(ctx, ref.Project, ref.Service, spec); err != nil {
			return err
		}
	}
	m.active[ref] = &rel
	m.metrics.inProgress.WithLabelValues(ref.Project, ref.Service).Set(1)
	m.log.Info("resuming rollout", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "deadline", rel.Deadline)
	return nil
}

// externalLocked records a template changed outside opshub as a release
// triggered by external and follows it.
func (m *Manager) externalLocked(ctx context.Context, ref model.Ref, hist []model.Release, o platform.ObservedTemplate) error {
	now := m.now().UTC()
	next := hist[0].Revision + 1
	var writes []model.Release
	if a := m.active[ref]; a != nil {
		prev := *a
		prev.State, prev.Reason = model.ReleaseSuperseded, fmt.Sprintf("superseded by revision %d, made outside opshub", next)
		prev.Finished, prev.Deadline = &now, nil
		m.metrics.rollouts.WithLabelValues(ref.Project, ref.Service, resultSuperseded).Inc()
		writes = append(writes, prev)
	}
	deadline := now.Add(m.opts.ProgressDeadline)
	reason := "pod template changed outside opshub"
	if o.By != "" {
		reason += " by " + o.By
	}
	rel := model.Release{
		Project: ref.Project, Service: ref.Service, Revision: next, State: model.ReleaseProgressing,
		Spec: o.Spec.Clone(), Trigger: model.ReleaseTrigger{Kind: model.TriggerExternal, By: o.By},
		Started: now, Reason: reason, Deadline: &deadline,
	}
	writes = append(writes, rel)
	if err := m.hist.put(writes...); err != nil {
		return err
	}
	m.active[ref] = &rel
	m.metrics.inProgress.WithLabelValues(ref.Project, ref.Service).Set(1)
	m.log.Info("rollout made outside opshub", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "by", o.By)
	m.publish(rel, model.EventDeployStarted, model.SeverityInfo, fmt.Sprintf("%s/%s: rolling out revision %d (%s)", ref.Project, ref.Service, rel.Revision, describeTrigger(rel)), nil)
	return nil
}
