package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// Groups on Kubernetes. A group (config `groups:`) lives in each namespace
// whose workloads it selects as an object opshub owns: a Secret for a
// secret group, a ConfigMap for a config group, named GroupObjectName and
// labelled ManagedByLabel: ManagedBy and GroupLabel: the group's name. A
// workload's default container takes its groups with envFrom, lowest
// priority first and before the container's own envFrom sources:
// Kubernetes lets the last envFrom source win on a shared key and the
// container's own env win over every envFrom source, which is the
// resolution order of config.Env. GroupChecksum of what the groups give
// the container goes into the pod template's annotations, so that a change
// of a group's data changes the template and rolls the workload, and a
// change the container's own env hides does not.
//
// The controller (internal/app) decides which workloads a group selects
// (GroupWorkloads gives their projects, names, tags and own variables) and
// writes envFrom and the checksum through the release engine: they are
// fields of the run spec (model.RunSpec.Groups, GroupsChecksum) that
// specOf reads and applySpec writes.
//
// GroupObjects needs get, create, update and delete on Secrets and
// ConfigMaps in the selected namespaces, and no list or watch: it reads
// objects by name. Kubernetes cannot limit create by name, and the names
// depend on the config, so the rule cannot name them either; instead
// GroupObjects never updates or deletes an object that does not carry
// opshub's label.

// Labels and names of group objects.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "opshub"
	GroupLabel     = "opshub.dev/group"
	// GroupChecksumAnnotation on a pod template holds GroupChecksum of
	// the groups it takes.
	GroupChecksumAnnotation = "opshub.dev/groups-checksum"
	// TagsAnnotation on a Deployment or StatefulSet (its own metadata,
	// not its pod template's) lists its tags, comma-separated: what
	// groups and notification integrations select by tag.
	TagsAnnotation = "opshub.dev/tags"
	groupPrefix    = "opshub-group-"
)

// GroupObject is a group as one namespace holds it.
type GroupObject struct {
	Name   string
	Secret bool
	Data   map[string]string
}

// GroupObjectName is the name of a group's Secret or ConfigMap.
func GroupObjectName(group string) string { return groupPrefix + group }

// ErrNotOwned is returned for an object of a group's name that opshub did
// not make: it is left as it is.
var ErrNotOwned = errors.New("exists and is not managed by opshub (no label " + ManagedByLabel + ": " + ManagedBy + ")")

// GroupChecksum hashes the variables groups give a container (the
// values of secret groups sealed, so that the annotation tells nothing of
// them): any change to what the container gets changes it.
func GroupChecksum(env map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		fmt.Fprintf(h, "%s=%s\x00", k, env[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// EnvFrom is the envFrom of a container that takes groups, in their order
// (lowest priority first, so that a higher priority wins).
func EnvFrom(groups []model.GroupRef) []corev1.EnvFromSource {
	out := make([]corev1.EnvFromSource, 0, len(groups))
	for _, g := range groups {
		ref := corev1.LocalObjectReference{Name: GroupObjectName(g.Name)}
		if g.Kind == model.GroupKindSecret {
			out = append(out, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref}})
		} else {
			out = append(out, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref}})
		}
	}
	return out
}

// groupOf tells the group an envFrom source takes, if it is one of
// opshub's.
func groupOf(src corev1.EnvFromSource) (model.GroupRef, bool) {
	switch {
	case src.SecretRef != nil && src.Prefix == "":
		if name, ok := strings.CutPrefix(src.SecretRef.Name, groupPrefix); ok {
			return model.GroupRef{Name: name, Kind: model.GroupKindSecret}, true
		}
	case src.ConfigMapRef != nil && src.Prefix == "":
		if name, ok := strings.CutPrefix(src.ConfigMapRef.Name, groupPrefix); ok {
			return model.GroupRef{Name: name, Kind: model.GroupKindConfig}, true
		}
	}
	return model.GroupRef{}, false
}

// groupsOf lists the groups a container takes, in order.
func groupsOf(c *corev1.Container) []model.GroupRef {
	var out []model.GroupRef
	for _, src := range c.EnvFrom {
		if g, ok := groupOf(src); ok {
			out = append(out, g)
		}
	}
	return out
}

// setGroups makes a container take groups, in their order, before its own
// envFrom sources (which, as the container's own, win over them).
func setGroups(c *corev1.Container, groups []model.GroupRef) {
	own := slices.DeleteFunc(slices.Clone(c.EnvFrom), func(src corev1.EnvFromSource) bool {
		_, ok := groupOf(src)
		return ok
	})
	from := append(EnvFrom(groups), own...)
	if len(from) == 0 {
		from = nil
	}
	c.EnvFrom = from
}

// TagsOf parses the value of TagsAnnotation: names separated by commas,
// spaces around them ignored, empty ones skipped.
func TagsOf(annotations map[string]string) []string {
	var out []string
	for _, t := range strings.Split(annotations[TagsAnnotation], ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// GroupObjects writes and removes the group objects of namespaces.
type GroupObjects struct {
	client kubernetes.Interface
}

// NewGroupObjects returns a GroupObjects over client.
func NewGroupObjects(client kubernetes.Interface) *GroupObjects {
	return &GroupObjects{client: client}
}

// Apply makes namespace ns hold groups: each one's object is created or
// updated to its data, and an object of the other kind with its name
// (the group changed kind) is deleted; then the objects of removed (group
// names no longer selecting anything here) are deleted. Objects without
// opshub's label are never changed: such a group fails with ErrNotOwned
// and the others go on.
func (g *GroupObjects) Apply(ctx context.Context, ns string, groups []GroupObject, removed []string) error {
	var errs []error
	for _, grp := range groups {
		if err := g.put(ctx, ns, grp); err != nil {
			errs = append(errs, fmt.Errorf("group %s in namespace %s: %w", grp.Name, ns, err))
			continue
		}
		if err := g.remove(ctx, ns, grp.Name, !grp.Secret); err != nil {
			errs = append(errs, fmt.Errorf("group %s in namespace %s: %w", grp.Name, ns, err))
		}
	}
	for _, name := range removed {
		for _, secret := range []bool{true, false} {
			if err := g.remove(ctx, ns, name, secret); err != nil {
				errs = append(errs, fmt.Errorf("removed group %s in namespace %s: %w", name, ns, err))
			}
		}
	}
	return errors.Join(errs...)
}

func groupMeta(ns, group string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: GroupObjectName(group), Namespace: ns, Labels: map[string]string{ManagedByLabel: ManagedBy, GroupLabel: group}}
}

func owned(meta metav1.ObjectMeta) bool { return meta.Labels[ManagedByLabel] == ManagedBy }

func (g *GroupObjects) put(ctx context.Context, ns string, grp GroupObject) error {
	name := GroupObjectName(grp.Name)
	if grp.Secret {
		secrets := g.client.CoreV1().Secrets(ns)
		cur, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: groupMeta(ns, grp.Name), Type: corev1.SecretTypeOpaque, StringData: grp.Data}, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		if !owned(cur.ObjectMeta) {
			return fmt.Errorf("secret %s %w", name, ErrNotOwned)
		}
		next := cur.DeepCopy()
		next.Labels = groupMeta(ns, grp.Name).Labels
		next.Data, next.StringData = nil, grp.Data
		_, err = secrets.Update(ctx, next, metav1.UpdateOptions{})
		return err
	}
	cms := g.client.CoreV1().ConfigMaps(ns)
	cur, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: groupMeta(ns, grp.Name), Data: grp.Data}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if !owned(cur.ObjectMeta) {
		return fmt.Errorf("configmap %s %w", name, ErrNotOwned)
	}
	next := cur.DeepCopy()
	next.Labels = groupMeta(ns, grp.Name).Labels
	next.Data, next.BinaryData = grp.Data, nil
	_, err = cms.Update(ctx, next, metav1.UpdateOptions{})
	return err
}

// remove deletes a group's Secret (secret) or ConfigMap when opshub owns
// it; a missing one or one opshub does not own is left alone.
func (g *GroupObjects) remove(ctx context.Context, ns, group string, secret bool) error {
	name := GroupObjectName(group)
	var meta metav1.ObjectMeta
	var err error
	if secret {
		var s *corev1.Secret
		if s, err = g.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			meta = s.ObjectMeta
		}
	} else {
		var c *corev1.ConfigMap
		if c, err = g.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			meta = c.ObjectMeta
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case !owned(meta):
		return nil
	}
	// Only the object that was read: a newer one of the same name made
	// by someone else in between is not deleted.
	pre := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &meta.UID}}
	if secret {
		err = g.client.CoreV1().Secrets(ns).Delete(ctx, name, pre)
	} else {
		err = g.client.CoreV1().ConfigMaps(ns).Delete(ctx, name, pre)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// GroupWorkload is a service as groups select it: its project, name and
// tags, the variables its default container sets itself (they win over
// every group) and the groups its pod template takes now.
type GroupWorkload struct {
	Project, Service, Namespace string
	Tags                        []string
	OwnEnv                      []string
	Groups                      []model.GroupRef
	// Unmanaged says why opshub does not write its pod template (see
	// ReleasesAnnotation); "" when it does.
	Unmanaged string
}

// GroupWorkloads lists every Deployment and StatefulSet from the caches,
// sorted by project and name.
func (p *Platform) GroupWorkloads(ctx context.Context) ([]GroupWorkload, error) {
	if err := p.waitSynced(ctx); err != nil {
		return nil, err
	}
	ws, err := p.workloads()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	var out []GroupWorkload
	for _, w := range ws {
		meta, tmpl, ok := p.cachedTemplate(w)
		if !ok || len(tmpl.Spec.Containers) == 0 {
			continue
		}
		def := &tmpl.Spec.Containers[templateContainer(tmpl)]
		gw := GroupWorkload{
			Project: w.project, Service: w.name, Namespace: w.namespace,
			Tags: TagsOf(meta.Annotations), Groups: groupsOf(def), Unmanaged: unmanaged(w, meta),
		}
		for _, e := range def.Env {
			gw.OwnEnv = append(gw.OwnEnv, e.Name)
		}
		out = append(out, gw)
	}
	return out, nil
}

// cachedTemplate is the metadata and pod template of a Deployment or
// StatefulSet from the caches (never to be changed).
func (p *Platform) cachedTemplate(w workload) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, bool) {
	switch w.kind {
	case kindDeployment:
		if d, err := p.deployments.Deployments(w.namespace).Get(w.name); err == nil {
			return &d.ObjectMeta, &d.Spec.Template, true
		}
	case kindStatefulSet:
		if s, err := p.statefulSets.StatefulSets(w.namespace).Get(w.name); err == nil {
			return &s.ObjectMeta, &s.Spec.Template, true
		}
	}
	return nil, nil, false
}

// Tags are the tags of a service (TagsAnnotation), from the caches; none
// for an unknown service or a job.
func (p *Platform) Tags(project, service string) []string {
	if !p.Ready() {
		return nil
	}
	ws, err := p.workloads()
	if err != nil {
		return nil
	}
	for _, w := range ws {
		if w.project == project && w.name == service {
			if meta, _, ok := p.cachedTemplate(w); ok {
				return TagsOf(meta.Annotations)
			}
		}
	}
	return nil
}

var _ platform.EnvReader = (*Platform)(nil)

// Env lists the variables the default container of a service's pod
// template gets from opshub's groups and its own literal env, sorted by
// name, each with its source: "group NAME" for a group's (read from its
// Secret or ConfigMap; a secret group's value is model.SecretValue), then
// the container's own, which win ("release", as a release sets them).
// Variables from other envFrom sources and from valueFrom are not listed.
func (p *Platform) Env(ctx context.Context, project, name string) ([]model.EnvVar, error) {
	w, err := p.releasable(ctx, project, name)
	if err != nil {
		return nil, err
	}
	_, tmpl, err := p.workloadObject(ctx, w)
	if err != nil {
		return nil, err
	}
	byName := map[string]model.EnvVar{}
	if len(tmpl.Spec.Containers) > 0 {
		def := &tmpl.Spec.Containers[templateContainer(tmpl)]
		for _, g := range groupsOf(def) {
			data, err := p.groupData(ctx, w.namespace, g)
			if err != nil {
				return nil, fmt.Errorf("group %s of %s/%s: %w", g.Name, project, name, err)
			}
			for k, v := range data {
				if g.Kind == model.GroupKindSecret {
					v = model.SecretValue
				}
				byName[k] = model.EnvVar{Name: k, Value: v, Source: groupSource(g.Name)}
			}
		}
		for _, e := range def.Env {
			if e.ValueFrom == nil {
				byName[e.Name] = model.EnvVar{Name: e.Name, Value: e.Value, Source: model.SourceRelease}
			} else {
				delete(byName, e.Name)
			}
		}
	}
	out := make([]model.EnvVar, 0, len(byName))
	for _, k := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, byName[k])
	}
	return out, nil
}

// groupSource is the source of a group's variable, as config.GroupSource
// says it.
func groupSource(name string) string { return "group " + name }

// groupData reads the keys of a group's object (values of a Secret are
// read to be masked by the caller); a missing object gives none.
func (p *Platform) groupData(ctx context.Context, ns string, g model.GroupRef) (map[string]string, error) {
	name := GroupObjectName(g.Name)
	out := map[string]string{}
	if g.Kind == model.GroupKindSecret {
		s, err := p.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for k := range s.Data {
			out[k] = model.SecretValue
		}
		return out, nil
	}
	cm, err := p.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	maps.Copy(out, cm.Data)
	return out, nil
}
