package kubernetes

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/opshub/opshub/model"
)

// NodePoolLabels are the node labels that name a node's pool, in the order
// they are looked at: Karpenter, GKE, EKS managed node groups, AKS, and the
// label eksctl and kops clusters use.
var NodePoolLabels = []string{
	"karpenter.sh/nodepool",
	"cloud.google.com/gke-nodepool",
	"eks.amazonaws.com/nodegroup",
	"kubernetes.azure.com/agentpool",
	"alpha.eksctl.io/nodegroup-name",
	"kops.k8s.io/instancegroup",
}

// nodePoolOf returns the pool of the named node from the first pool label
// it carries, or "" when the node is unknown, carries none, or nodes are
// not watched (a platform limited to one namespace).
func (p *Platform) nodePoolOf(node string) string {
	if node == "" || p.nodes == nil {
		return ""
	}
	n, err := p.nodes.Get(node)
	if err != nil {
		return ""
	}
	for _, l := range NodePoolLabels {
		if v := n.Labels[l]; v != "" {
			return v
		}
	}
	return ""
}

// requestsOf returns the resource requests of the named container, or nil
// when it requests neither CPU nor memory.
func requestsOf(pod *corev1.Pod, container string) *model.Requests {
	for _, c := range pod.Spec.Containers {
		if c.Name != container {
			continue
		}
		var r model.Requests
		if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
			r.CPU = float64(q.MilliValue()) / 1000
		}
		if q, ok := c.Resources.Requests[corev1.ResourceMemory]; ok {
			r.Memory = float64(q.Value())
		}
		if r == (model.Requests{}) {
			return nil
		}
		return &r
	}
	return nil
}
