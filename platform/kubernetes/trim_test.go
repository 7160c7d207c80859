package kubernetes

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The controller's caches hold no managed fields of pods (they grow with
// every status update) nor nodes' image lists; a Deployment keeps its
// managed fields, from which lastWriter names who changed its template.
func TestCachesKeepNoManagedFields(t *testing.T) {
	now := metav1.Now()
	fields := []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, Time: &now, Subresource: "status"},
		{Manager: "argocd", Operation: metav1.ManagedFieldsOperationUpdate, Time: &now}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", Labels: map[string]string{"app": "web"}, ManagedFields: fields},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", ManagedFields: fields},
		Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: []string{"web:1"}, SizeBytes: 1 << 20}}}}
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", ManagedFields: fields},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "web:1"}}}}}}
	p, _ := runFake(t, Options{}, pod, node, dep)

	gotPod, err := p.pods.Pods("shop").Get("web-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotPod.ManagedFields) != 0 || gotPod.Spec.NodeName != "node-1" || gotPod.Labels["app"] != "web" {
		t.Errorf("cached pod: %d managed fields, node %q, labels %v", len(gotPod.ManagedFields), gotPod.Spec.NodeName, gotPod.Labels)
	}
	gotNode, err := p.nodes.Get("node-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotNode.ManagedFields) != 0 || len(gotNode.Status.Images) != 0 {
		t.Errorf("cached node: %d managed fields, %d images", len(gotNode.ManagedFields), len(gotNode.Status.Images))
	}
	gotDep, err := p.deployments.Deployments("shop").Get("web")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotDep.ManagedFields) != 2 || lastWriter(&gotDep.ObjectMeta) != "argocd" {
		t.Errorf("cached Deployment: %d managed fields, last writer %q", len(gotDep.ManagedFields), lastWriter(&gotDep.ObjectMeta))
	}
}
