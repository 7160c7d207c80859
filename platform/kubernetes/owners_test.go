package kubernetes

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// controlledBy makes owner the controller of obj.
func controlledBy(obj metav1.Object, kind, name string, uid types.UID) {
	yes := true
	obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, UID: uid, Controller: &yes}})
}

func pod(ns, name string, owner metav1.Object, kind string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("pod-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}},
	}
	if owner != nil {
		controlledBy(p, kind, owner.GetName(), owner.GetUID())
	}
	return p
}

// The fake clientset only stands in for the caches here: which pods belong
// to which service is a translation of owner references. Watching, scaling
// and events are tested against a real API server in test/e2e.
func TestOwnerChainsMakeServices(t *testing.T) {
	two := int32(2)
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "dep-web"}, Spec: appsv1.DeploymentSpec{Replicas: &two}}
	webRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7f9c", UID: "rs-web"}}
	controlledBy(webRS, kindDeployment, "web", "dep-web")
	oldRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-5d4b", UID: "rs-web-old"}}
	controlledBy(oldRS, kindDeployment, "web", "dep-web")
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", UID: "sts-db",
		Labels: map[string]string{ProjectLabel: "data"}}}
	lonelyRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "lonely", UID: "rs-lonely"}}

	objects := []runtime.Object{
		web, webRS, oldRS, db, lonelyRS,
		pod("shop", "web-7f9c-a", webRS, kindReplicaSet),
		pod("shop", "web-5d4b-b", oldRS, kindReplicaSet), // a pod of the previous rollout is still the service's
		pod("shop", "db-0", db, kindStatefulSet),
		pod("shop", "lonely-x", lonelyRS, kindReplicaSet), // a ReplicaSet without a Deployment is no service
		pod("shop", "bare", nil, ""),
	}
	p, err := New(Options{Client: fake.NewClientset(objects...)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 1) }()
	defer func() {
		p.Close()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()

	svcs, err := p.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	var order []string
	for _, s := range svcs {
		order = append(order, s.Ref().String())
		for _, in := range s.Instances {
			got[s.Ref().String()] = append(got[s.Ref().String()], in.Name)
		}
	}
	tests := []struct {
		name    string
		service string
		want    []string
	}{
		{"deployment has the pods of all its replica sets", "shop/web", []string{"web-5d4b-b", "web-7f9c-a"}},
		{"statefulset with a project label", "data/db", []string{"db-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(got[tt.service], tt.want) {
				t.Errorf("instances of %s = %v, want %v", tt.service, got[tt.service], tt.want)
			}
		})
	}
	if !slices.Equal(order, []string{"data/db", "shop/web"}) {
		t.Errorf("services = %v, want data/db and shop/web only, sorted", order)
	}
	if svcs[1].Replicas != 2 {
		t.Errorf("shop/web replicas = %d, want 2", svcs[1].Replicas)
	}
}
