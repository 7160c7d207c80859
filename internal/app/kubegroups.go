package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/release"
)

// kubeGroupsEvery is how often the controller looks again at which
// workloads its groups select: a Deployment created or tagged since, a
// namespace labelled, is taken in within this time.
const kubeGroupsEvery = 10 * time.Second

// kubeGroups applies the config's groups on a cluster (docs/groups.md, On
// Kubernetes). For each Deployment and StatefulSet it resolves the groups
// that select it (project, name, the tags of kubernetes.TagsAnnotation),
// writes their Secrets and ConfigMaps into its namespace, and hands the
// release engine the groups the pod template should take with their
// checksum (release.Manager.GroupsChanged): a service whose groups give it
// something new rolls onto a release triggered by config, any other is
// left alone. The objects of a group no workload of a namespace takes any
// more are deleted.
type kubeGroups struct {
	plat *kubernetes.Platform
	objs *kubernetes.GroupObjects
	rels *release.Manager
	log  *slog.Logger

	mu     sync.Mutex // one apply at a time
	groups []config.Group
	// written holds, by namespace and group name, a digest of the data last
	// written to the group's object, so that an unchanged object costs no
	// request.
	written map[string]string
	// problems holds the last problem logged for each service, so that a
	// problem that stays is logged once.
	problems map[model.Ref]string
}

func newKubeGroups(cfg *config.Config, plat *kubernetes.Platform, objs *kubernetes.GroupObjects, rels *release.Manager, log *slog.Logger) *kubeGroups {
	return &kubeGroups{
		plat: plat, objs: objs, rels: rels, log: log.With("component", "groups"),
		groups: cfg.Groups, written: map[string]string{}, problems: map[model.Ref]string{},
	}
}

// Run applies the groups now and then every kubeGroupsEvery until ctx ends.
func (k *kubeGroups) Run(ctx context.Context) error {
	t := time.NewTicker(kubeGroupsEvery)
	defer t.Stop()
	for {
		k.mu.Lock()
		k.applyLocked(ctx)
		k.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// ApplyGroups applies the groups of a reloaded config at once: the
// releases it started ("project/service revision N") and what failed.
func (k *kubeGroups) ApplyGroups(ctx context.Context, cfg *config.Config) ([]string, []error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.groups = cfg.Groups
	return k.applyLocked(ctx)
}

// groupPlan is what the groups give one workload.
type groupPlan struct {
	w    kubernetes.GroupWorkload
	want model.RunSpec
	// objects are the groups' objects it needs in its namespace.
	objects []kubernetes.GroupObject
	err     error
}

func (k *kubeGroups) applyLocked(ctx context.Context) ([]string, []error) {
	ws, err := k.plat.GroupWorkloads(ctx)
	if err != nil {
		return nil, []error{err}
	}
	cfg := &config.Config{Groups: k.groups}
	plans := make([]*groupPlan, 0, len(ws))
	for _, w := range ws {
		p := planGroups(cfg, w)
		if len(p.want.Groups) == 0 && len(w.Groups) == 0 && p.err == nil {
			continue // no group selects it, and it takes none
		}
		if len(p.want.Groups) > 0 {
			// Over sealed secret values: the annotation tells that a
			// value changed, and nothing of the value.
			p.want.GroupsChecksum = kubernetes.GroupChecksum(k.rels.Seal(p.want).Env)
		}
		plans = append(plans, p)
	}

	// The objects first, so that a template never names one that is not
	// there yet.
	failed := map[string]error{} // namespace/group
	for _, p := range plans {
		if p.err != nil {
			continue
		}
		for _, obj := range p.objects {
			key := p.w.Namespace + "/" + obj.Name
			if _, seen := failed[key]; seen {
				continue
			}
			digest := objectDigest(obj)
			if k.written[key] == digest {
				continue
			}
			if err := k.objs.Apply(ctx, p.w.Namespace, []kubernetes.GroupObject{obj}, nil); err != nil {
				failed[key] = err
				delete(k.written, key)
				continue
			}
			k.written[key] = digest
		}
	}

	var releases []string
	var errs []error
	referenced := map[string]map[string]bool{} // namespace → group names its templates take
	for _, p := range plans {
		ref := model.Ref{Project: p.w.Project, Service: p.w.Service}
		for _, obj := range p.objects {
			if err := failed[p.w.Namespace+"/"+obj.Name]; err != nil && p.err == nil {
				p.err = err
			}
		}
		// What the template takes now stays until the caches show it
		// changed (a later apply), and so does what it is to take.
		takes := slices.Clone(p.w.Groups)
		switch {
		case p.err != nil:
		case p.w.Unmanaged != "":
			// A workload whose pod template a GitOps tool owns gets
			// the objects, and takes them as its owner writes.
		default:
			rel, err := k.rels.GroupsChanged(ctx, ref, p.want)
			if err != nil {
				p.err = err
				break
			}
			takes = append(takes, p.want.Groups...)
			if rel != nil {
				releases = append(releases, fmt.Sprintf("%s revision %d", ref, rel.Revision))
				k.log.Info("groups rolled out", "project", ref.Project, "service", ref.Service, "revision", rel.Revision, "reason", rel.Reason)
			}
		}
		if referenced[p.w.Namespace] == nil {
			referenced[p.w.Namespace] = map[string]bool{}
		}
		for _, g := range takes {
			referenced[p.w.Namespace][g.Name] = true
		}
		for _, obj := range p.objects {
			referenced[p.w.Namespace][obj.Name] = true
		}
		if p.err != nil {
			err := fmt.Errorf("groups of %s: %w", ref, p.err)
			errs = append(errs, err)
			if k.problems[ref] != err.Error() {
				k.problems[ref] = err.Error()
				k.log.Warn("groups not applied", "project", ref.Project, "service", ref.Service, "error", p.err)
			}
		} else {
			delete(k.problems, ref)
		}
	}

	// Then the objects that no workload of their namespace is to take and
	// no template there takes any more (the caches show a template's
	// change at a later apply): a group removed, or that selects nothing
	// there now.
	for _, p := range plans {
		for _, g := range p.w.Groups {
			k.removeUnreferenced(ctx, p.w.Namespace, g.Name, referenced, &errs)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(k.written)) {
		ns, name, _ := strings.Cut(key, "/")
		k.removeUnreferenced(ctx, ns, name, referenced, &errs)
	}
	slices.Sort(releases)
	return releases, errs
}

// removeUnreferenced deletes a group's object in ns unless a template
// there takes it.
func (k *kubeGroups) removeUnreferenced(ctx context.Context, ns, name string, referenced map[string]map[string]bool, errs *[]error) {
	if referenced[ns][name] {
		return
	}
	if referenced[ns] == nil {
		referenced[ns] = map[string]bool{}
	}
	referenced[ns][name] = true // once per apply
	if err := k.objs.Apply(ctx, ns, nil, []string{name}); err != nil {
		*errs = append(*errs, err)
		k.log.Warn("group object not removed", "namespace", ns, "group", name, "error", err)
		return
	}
	delete(k.written, ns+"/"+name)
	k.log.Info("group object removed", "namespace", ns, "group", name)
}

// planGroups resolves what the groups of cfg give workload w: the groups
// that select it, lowest priority first, and the variables they give its
// default container (the ones its own env does not set), with the checksum
// left to the caller. Two groups of one priority that set one key are an
// error naming both, as `opshub check-config` says for a workload of the
// file.
func planGroups(cfg *config.Config, w kubernetes.GroupWorkload) *groupPlan {
	p := &groupPlan{w: w, want: model.RunSpec{Env: map[string]string{}}}
	cw := config.Workload{Project: w.Project, Name: w.Service, Tags: w.Tags}
	setBy := map[string]int{} // key → index of the group that set it
	for _, i := range cfg.GroupsOf(cw) {
		g := cfg.Groups[i]
		kind := model.GroupKindConfig
		if g.Kind != config.GroupConfig {
			kind = model.GroupKindSecret
		}
		vars := g.Vars()
		obj := kubernetes.GroupObject{Name: g.Name, Secret: kind == model.GroupKindSecret, Data: make(map[string]string, len(vars))}
		for _, key := range slices.Sorted(maps.Keys(vars)) {
			obj.Data[key] = vars[key].Value()
			if j, ok := setBy[key]; ok && cfg.Groups[j].Priority == g.Priority && p.err == nil {
				p.err = fmt.Errorf("%s is set at priority %d by both group %q and group %q: give one of them another priority, or remove %s from one", key, g.Priority, cfg.Groups[j].Name, g.Name, key)
			}
			setBy[key] = i
			if slices.Contains(w.OwnEnv, key) {
				continue // the container's own env wins
			}
			p.want.Env[key] = obj.Data[key]
			if p.want.Sources == nil {
				p.want.Sources = map[string]model.EnvSource{}
			}
			p.want.Sources[key] = model.EnvSource{From: config.GroupSource(g.Name), Secret: obj.Secret}
		}
		p.objects = append(p.objects, obj)
		p.want.Groups = append(p.want.Groups, model.GroupRef{Name: g.Name, Kind: kind})
	}
	return p
}

// objectDigest is a digest of what a group's object holds, kept in memory
// only, to skip writing an object that did not change.
func objectDigest(obj kubernetes.GroupObject) string {
	h := sha256.New()
	fmt.Fprintf(h, "%t\x00", obj.Secret)
	for _, k := range slices.Sorted(maps.Keys(obj.Data)) {
		fmt.Fprintf(h, "%s=%s\x00", k, obj.Data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}
