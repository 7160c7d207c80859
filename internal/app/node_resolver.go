package app

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/platform/kubernetes"
)

// Labels the collector adds to the pod's own on every log record, named as
// OpenTelemetry's Kubernetes resource attributes are.
const (
	labelNamespace = "k8s.namespace.name"
	labelPod       = "k8s.pod.name"
	labelPodUID    = "k8s.pod.uid"
	labelNode      = "k8s.node.name"
)

// podResolver enriches a log file from the node's pod cache: the pod
// directory's UID names the pod, the pod its project and service, and its
// labels (with the namespace, pod, UID and node) go on every record. It
// answers from memory only.
type podResolver struct {
	pods *kubernetes.NodePods
	node string
}

var _ collector.Resolver = podResolver{}

func (r podResolver) Resolve(src collector.Source) (model.Ref, model.Labels, bool) {
	m, ok := r.pods.ByUID(src.UID)
	if !ok {
		return model.Ref{}, nil, false
	}
	labels := make(model.Labels, len(m.Labels)+4)
	maps.Copy(labels, m.Labels)
	labels[labelNamespace] = m.Namespace
	labels[labelPod] = m.Name
	labels[labelPodUID] = m.UID
	labels[labelNode] = r.node
	return model.Ref{Project: m.Project, Service: m.Service, Instance: m.Name, Container: src.Container}, labels, true
}

// podLogsPresent reports whether a pod's log directory
// (<root>/<namespace>_<pod>_<uid>) is still under one of the roots: the
// kubelet removes it when it has removed the pod's containers, after the
// collector has read what they wrote.
func podLogsPresent(roots []string, m kubernetes.PodMeta) bool {
	for _, root := range roots {
		if _, err := os.Stat(filepath.Join(root, m.Namespace+"_"+m.Name+"_"+m.UID)); err == nil {
			return true
		}
	}
	return false
}

// nodeServices answers the services endpoints of a collector: services are
// the controller's to list, so a collector lists none.
type nodeServices struct{}

func (nodeServices) Services(context.Context) ([]model.Service, error) { return nil, nil }

func (nodeServices) Service(_ context.Context, project, name string) (model.Service, error) {
	return model.Service{}, fmt.Errorf("service %s/%s: a collector lists no services, ask the controller: %w", project, name, platform.ErrNotFound)
}
