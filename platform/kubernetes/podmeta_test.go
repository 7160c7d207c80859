package kubernetes

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func ownedPod(ns, name, uid string, labels map[string]string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}},
	}
	if owner != nil {
		yes := true
		owner.Controller = &yes
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func TestServiceFromOwner(t *testing.T) {
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		kind, want string
	}{
		{"deployment through its replicaset's name and the pod-template-hash",
			ownedPod("shop", "web-7f9c4d5b8-x2x9k", "u1", map[string]string{"pod-template-hash": "7f9c4d5b8"}, &metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-7f9c4d5b8"}),
			"Deployment", "web"},
		{"deployment whose name has dashes",
			ownedPod("shop", "api-v2-5d8f-abcde", "u2", map[string]string{"pod-template-hash": "5d8f"}, &metav1.OwnerReference{Kind: "ReplicaSet", Name: "api-v2-5d8f"}),
			"Deployment", "api-v2"},
		{"a replicaset of its own",
			ownedPod("shop", "legacy-x2x9k", "u3", map[string]string{"app": "legacy"}, &metav1.OwnerReference{Kind: "ReplicaSet", Name: "legacy"}),
			"ReplicaSet", "legacy"},
		{"statefulset",
			ownedPod("shop", "db-0", "u4", nil, &metav1.OwnerReference{Kind: "StatefulSet", Name: "db"}),
			"StatefulSet", "db"},
		{"daemonset",
			ownedPod("kube-system", "proxy-abcde", "u5", nil, &metav1.OwnerReference{Kind: "DaemonSet", Name: "proxy"}),
			"DaemonSet", "proxy"},
		{"bare pod", ownedPod("shop", "debug", "u6", nil, nil), "", "debug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, name := serviceFromOwner(tc.pod)
			if kind != tc.kind || name != tc.want {
				t.Errorf("got %s %q, want %s %q", kind, name, tc.kind, tc.want)
			}
		})
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestNodePodsKeepsADeletedPodWhileItsFilesDrain(t *testing.T) {
	web := ownedPod("shop", "web-7f9c4d5b8-x2x9k", "uid-web", map[string]string{"pod-template-hash": "7f9c4d5b8", "app": "web", ProjectLabel: "payments"},
		&metav1.OwnerReference{Kind: "ReplicaSet", Name: "web-7f9c4d5b8"})
	web.Annotations = map[string]string{defaultContainerAnnotation: "sidecar", "team": "checkout"}
	web.Spec.Volumes = []corev1.Volume{
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "web-data"}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	client := fake.NewClientset(web)
	clock := &fakeClock{now: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	var drainingMu sync.Mutex
	draining := true
	pods, err := NewNodePods(NodePodsOptions{
		Client: client, Node: "node-a", Now: clock.Now, SweepInterval: time.Hour,
		Draining: func(PodMeta) bool { drainingMu.Lock(); defer drainingMu.Unlock(); return draining },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pods.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-pods.Synced():
	case <-time.After(30 * time.Second):
		t.Fatal("pod cache did not sync")
	}

	m, ok := pods.ByUID("uid-web")
	if !ok {
		t.Fatal("pod not found by uid")
	}
	if m.Project != "payments" || m.Service != "web" || m.Workload != "Deployment" || m.DefaultContainer != "sidecar" ||
		m.Labels["app"] != "web" || m.Annotations["team"] != "checkout" || len(m.Claims) != 1 || m.Claims["data"] != "web-data" {
		t.Errorf("metadata %+v", m)
	}
	if byName, ok := pods.ByName("shop", "web-7f9c4d5b8-x2x9k"); !ok || byName.UID != "uid-web" {
		t.Errorf("by name: %+v %t", byName, ok)
	}

	if err := client.CoreV1().Pods("shop").Delete(ctx, web.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m, ok := pods.ByUID("uid-web"); ok && !m.Deleted.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deletion was not seen")
		}
		time.Sleep(10 * time.Millisecond)
	}

	pods.Sweep()
	if _, ok := pods.ByUID("uid-web"); !ok {
		t.Fatal("a pod deleted just now was forgotten")
	}
	clock.Add(DefaultDeletedRetention + time.Second)
	pods.Sweep()
	if _, ok := pods.ByUID("uid-web"); !ok {
		t.Fatal("a deleted pod whose files are still there was forgotten")
	}
	drainingMu.Lock()
	draining = false
	drainingMu.Unlock()
	pods.Sweep()
	if _, ok := pods.ByUID("uid-web"); ok {
		t.Error("a deleted, drained pod past its retention is still held")
	}
	if _, ok := pods.ByName("shop", "web-7f9c4d5b8-x2x9k"); ok {
		t.Error("a forgotten pod is still found by name")
	}
}
