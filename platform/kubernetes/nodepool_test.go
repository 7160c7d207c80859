package kubernetes

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/model"
)

// Spend prices a container by its node's pool and charges its requests;
// the autoscaler measures utilization against the same requests.
func TestInstancesCarryTheirNodePoolAndRequests(t *testing.T) {
	one := int32(1)
	train := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ml", Name: "train", UID: "sts-train"}, Spec: appsv1.StatefulSetSpec{Replicas: &one}}
	onNode := func(p *corev1.Pod, node string, requests corev1.ResourceList) *corev1.Pod {
		p.Spec.NodeName = node
		p.Spec.Containers[0].Resources.Requests = requests
		return p
	}
	gpuNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{
		"cloud.google.com/gke-nodepool": "gpu", "kubernetes.io/hostname": "gpu-1"}}}
	plainNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "plain-1"}}
	p, _ := runFake(t, Options{}, train, gpuNode, plainNode,
		onNode(pod("ml", "train-0", train, kindStatefulSet), "gpu-1", corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("2Gi")}),
		onNode(pod("ml", "train-1", train, kindStatefulSet), "plain-1", nil),
	)
	svc, err := p.Service(context.Background(), "ml", "train")
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Instances) != 2 {
		t.Fatalf("instances = %+v", svc.Instances)
	}
	gpu, plain := svc.Instances[0], svc.Instances[1]
	if gpu.NodePool != "gpu" || plain.NodePool != "" {
		t.Errorf("node pools = %q, %q; want gpu and none", gpu.NodePool, plain.NodePool)
	}
	if gpu.Requests == nil || *gpu.Requests != (model.Requests{CPU: 1.5, Memory: 2 << 30}) {
		t.Errorf("requests of train-0 = %+v, want 1.5 cores and 2Gi", gpu.Requests)
	}
	if plain.Requests != nil {
		t.Errorf("requests of train-1 = %+v, want none", plain.Requests)
	}
}
