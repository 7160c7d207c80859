package kubernetes

import (
	"cmp"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// surgePods names the pods of a Deployment that a rolling update runs above
// its desired replicas. The rule: while live pods (not terminating, not
// finished) belong to more than one ReplicaSet, a rollout is in progress,
// and the live pods beyond spec.replicas are surge; they are the newest
// ones, because a rollout adds new pods first and removes old ones after,
// so the oldest spec.replicas pods are the set that has been carrying the
// load. Newest means of the highest ReplicaSet revision (revisionOf, the
// Deployment controller's deployment.kubernetes.io/revision), then by
// creation time and name: creation times have a resolution of a second, so
// an old pod and a new one often share one. Without a rollout (one
// ReplicaSet, or a scale-down whose pods are not terminating yet) nothing
// is surge. The autoscaler leaves surge pods out, so a rollout's extra pods
// and their start-up spikes do not move its decisions.
func surgePods(pods []*corev1.Pod, replicas int, revisionOf func(*corev1.Pod) int64) map[string]bool {
	live := make([]*corev1.Pod, 0, len(pods))
	sets := map[types.UID]bool{}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		live = append(live, pod)
		if ref := metav1.GetControllerOf(pod); ref != nil {
			sets[ref.UID] = true
		}
	}
	if len(sets) < 2 || len(live) <= replicas {
		return nil
	}
	slices.SortFunc(live, func(a, b *corev1.Pod) int {
		return cmp.Or(cmp.Compare(revisionOf(a), revisionOf(b)),
			a.CreationTimestamp.Compare(b.CreationTimestamp.Time), cmp.Compare(a.Name, b.Name))
	})
	out := make(map[string]bool, len(live)-replicas)
	for _, pod := range live[max(replicas, 0):] {
		out[pod.Name] = true
	}
	return out
}

// podRevision is the revision of the ReplicaSet that controls pod, from the
// cache; 0 when it is not known.
func (p *Platform) podRevision(pod *corev1.Pod) int64 {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != kindReplicaSet {
		return 0
	}
	rs, err := p.replicaSets.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil {
		return 0
	}
	return revisionOf(rs.Annotations)
}
