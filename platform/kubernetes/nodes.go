package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/opshub/opshub/platform"
)

// Node is a machine instances run on, as far as placement goes.
type Node struct {
	Name string `json:"name"`
	// Ready is the node's Ready condition.
	Ready bool `json:"ready"`
	// Unschedulable is set while the node is cordoned (kubectl cordon,
	// drain).
	Unschedulable bool `json:"unschedulable,omitempty"`
	// Pressure lists the node's conditions other than Ready that are true
	// ("MemoryPressure", "DiskPressure", "PIDPressure", …): the reasons
	// the kubelet evicts pods.
	Pressure []string `json:"pressure,omitempty"`
}

// errNodesNotWatched says the platform is limited to a namespace, where
// nodes are not watched.
var errNodesNotWatched = errors.New("nodes are watched only when the platform watches the whole cluster")

// Node returns the node an instance runs on (model.Instance.Node), from the
// cache, or an error wrapping platform.ErrNotFound.
func (p *Platform) Node(ctx context.Context, name string) (Node, error) {
	if err := p.waitSynced(ctx); err != nil {
		return Node{}, err
	}
	if p.nodes == nil {
		return Node{}, fmt.Errorf("kubernetes: node %s: %w", name, errNodesNotWatched)
	}
	n, err := p.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return Node{}, fmt.Errorf("kubernetes: node %s: %w", name, platform.ErrNotFound)
	}
	if err != nil {
		return Node{}, fmt.Errorf("kubernetes: node %s: %w", name, err)
	}
	return nodeOf(n), nil
}

func nodeOf(n *corev1.Node) Node {
	out := Node{Name: n.Name, Unschedulable: n.Spec.Unschedulable}
	for _, c := range n.Status.Conditions {
		switch {
		case c.Type == corev1.NodeReady:
			out.Ready = c.Status == corev1.ConditionTrue
		case c.Status == corev1.ConditionTrue:
			out.Pressure = append(out.Pressure, string(c.Type))
		}
	}
	slices.Sort(out.Pressure)
	return out
}
