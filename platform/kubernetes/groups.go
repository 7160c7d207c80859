package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Groups on Kubernetes. A group (config `groups:`) lives in each namespace
// whose workloads it selects as an object opshub owns: a Secret for a
// secret group, a ConfigMap for a config group, named GroupObjectName and
// labelled ManagedByLabel: ManagedBy and GroupLabel: the group's name. A
// workload takes its groups with envFrom, lowest priority first: Kubernetes
// lets the last envFrom source win on a shared key and the container's own
// env win over every envFrom source, which is the resolution order of
// config.Env. GroupChecksum goes into the pod template's annotations, so
// that a change of a group's data changes the template and rolls the
// workload.
//
// This file holds the objects' side only; the controller does not apply
// groups yet (it needs the Kubernetes release engine to write envFrom and
// the checksum into pod templates as releases).
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
	groupPrefix             = "opshub-group-"
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

// GroupChecksum hashes the kind, name and data of groups in their order
// (a workload's, lowest priority first): any change to what a workload
// would get changes it.
func GroupChecksum(groups []GroupObject) string {
	h := sha256.New()
	for _, g := range groups {
		fmt.Fprintf(h, "%s\x00%t\x00", g.Name, g.Secret)
		for _, k := range slices.Sorted(maps.Keys(g.Data)) {
			fmt.Fprintf(h, "%s=%s\x00", k, g.Data[k])
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// EnvFrom is the envFrom of a container that takes groups, in their order
// (lowest priority first, so that a higher priority wins).
func EnvFrom(groups []GroupObject) []corev1.EnvFromSource {
	out := make([]corev1.EnvFromSource, 0, len(groups))
	for _, g := range groups {
		ref := corev1.LocalObjectReference{Name: GroupObjectName(g.Name)}
		if g.Secret {
			out = append(out, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: ref}})
		} else {
			out = append(out, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: ref}})
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
