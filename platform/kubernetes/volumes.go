package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/opshub/opshub/model"
)

// claimsOf returns the PersistentVolumeClaims a pod mounts: the claims its
// volumes name, and the claims of its generic ephemeral volumes, which are
// named <pod>-<volume>. A StatefulSet's volumeClaimTemplates appear in its
// pods as claims too.
func claimsOf(pod *corev1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

// capacityOf is a claim's capacity as bound (status.capacity), in bytes; 0
// before it is bound.
func capacityOf(c *corev1.PersistentVolumeClaim) int64 {
	q, ok := c.Status.Capacity[corev1.ResourceStorage]
	if !ok {
		return 0
	}
	return q.Value()
}

// Volumes lists the PersistentVolumeClaims the instances of a service or
// job mount, from the caches, sorted by name: each with its capacity and
// the instances that use it, so that volume samples can be labelled with
// the claim and its service. A claim a pod names that does not exist (yet)
// is left out.
func (p *Platform) Volumes(ctx context.Context, project, service string) ([]model.Volume, error) {
	w, err := p.find(ctx, project, service)
	if err != nil {
		return nil, err
	}
	return p.volumesOf(w)
}

// AllVolumes is Volumes of every service at once, by service (project and
// service of the Ref): one pass over the workloads, where a Volumes call
// per service would look each one up among all of them.
func (p *Platform) AllVolumes(ctx context.Context) (map[model.Ref][]model.Volume, error) {
	if err := p.waitSynced(ctx); err != nil {
		return nil, err
	}
	ws, err := p.workloads()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	out := make(map[model.Ref][]model.Volume, len(ws))
	for _, w := range ws {
		vs, err := p.volumesOf(w)
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 {
			out[model.Ref{Project: w.project, Service: w.name}] = vs
		}
	}
	return out, nil
}

// volumesOf is Volumes of one workload.
func (p *Platform) volumesOf(w workload) ([]model.Volume, error) {
	pods, err := p.podsOf(w)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	byName := map[string]*model.Volume{}
	for _, pod := range pods {
		for _, name := range claimsOf(pod) {
			v := byName[name]
			if v == nil {
				c, err := p.claims.PersistentVolumeClaims(pod.Namespace).Get(name)
				if apierrors.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("kubernetes: claim %s/%s: %w", pod.Namespace, name, err)
				}
				v = &model.Volume{Name: name, Capacity: capacityOf(c)}
				byName[name] = v
			}
			if !slices.Contains(v.Instances, pod.Name) {
				v.Instances = append(v.Instances, pod.Name)
			}
		}
	}
	out := make([]model.Volume, 0, len(byName))
	for _, v := range byName {
		slices.Sort(v.Instances)
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b model.Volume) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}
