package app

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/metrics/kubelet"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
)

func controlled(kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &yes}}
}

func claimVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func TestNodeSourceNamesReadingsFromThePodCache(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0", UID: "uid-db-0", OwnerReferences: controlled("StatefulSet", "db")},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "db"}}, Volumes: []corev1.Volume{claimVolume("data", "data-db-0")}},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-5d8f9-abcde", UID: "uid-web",
				Labels:          map[string]string{"pod-template-hash": "5d8f9", kubernetes.ProjectLabel: "payments"},
				OwnerReferences: controlled("ReplicaSet", "web-5d8f9")},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}, Volumes: []corev1.Volume{claimVolume("shared", "uploads")}},
		},
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-5d8f9-fghij", UID: "uid-web-2",
				Labels:          map[string]string{"pod-template-hash": "5d8f9", kubernetes.ProjectLabel: "payments"},
				OwnerReferences: controlled("ReplicaSet", "web-5d8f9")},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}, Volumes: []corev1.Volume{claimVolume("shared", "uploads")}},
		},
	)
	pods, err := kubernetes.NewNodePods(kubernetes.NodePodsOptions{Client: client, Node: kubetest.NodeName})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pods.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-pods.Synced():
	case <-time.After(30 * time.Second):
		t.Fatal("pod cache did not sync")
	}

	fixture := kubetest.StartKubelet(t)
	vol := func(name, pvc string, used, capacity uint64) kubetest.KubeletVolume {
		return kubetest.KubeletVolume{Name: name, PVC: pvc, UsedBytes: used, CapacityBytes: capacity}
	}
	fixture.SetPods(
		kubetest.KubeletPod{Namespace: "shop", Name: "db-0", UID: "uid-db-0",
			Containers: []kubetest.KubeletContainer{{Name: "db", CPUSeconds: 3, MemoryBytes: 100}},
			Volumes:    []kubetest.KubeletVolume{vol("data", "data-db-0", 92, 100), vol("kube-api-access-x", "", 1, 10)}},
		kubetest.KubeletPod{Namespace: "shop", Name: "web-5d8f9-abcde", UID: "uid-web",
			Containers: []kubetest.KubeletContainer{{Name: "web", CPUSeconds: 1, MemoryBytes: 200}},
			Volumes:    []kubetest.KubeletVolume{vol("shared", "uploads", 10, 1000), vol("tmp", "", 5, 50)}},
		kubetest.KubeletPod{Namespace: "shop", Name: "web-5d8f9-fghij", UID: "uid-web-2",
			Containers: []kubetest.KubeletContainer{{Name: "web", CPUSeconds: 1, MemoryBytes: 300}},
			Volumes:    []kubetest.KubeletVolume{vol("shared", "uploads", 10, 1000)}},
		kubetest.KubeletPod{Namespace: "other", Name: "stray", UID: "uid-stray",
			Containers: []kubetest.KubeletContainer{{Name: "stray", CPUSeconds: 1, MemoryBytes: 1}},
			Volumes:    []kubetest.KubeletVolume{vol("data", "stray-data", 1, 2)}},
	)
	src, err := kubelet.New(kubelet.Options{URL: fixture.URL, CAFile: fixture.CAFile, TokenFile: fixture.TokenFile})
	if err != nil {
		t.Fatal(err)
	}
	readings, err := nodeSource{src: src, pods: pods}.Read(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	containers := map[model.Ref]bool{}
	volumes := map[model.Ref][]metrics.VolumeReading{}
	for _, r := range readings {
		if len(r.Volumes) > 0 {
			volumes[r.Ref] = append(volumes[r.Ref], r.Volumes...)
			continue
		}
		containers[r.Ref] = true
	}
	for _, want := range []model.Ref{
		{Project: "shop", Service: "db", Instance: "db-0", Container: "db"},
		{Project: "payments", Service: "web", Instance: "web-5d8f9-abcde", Container: "web"},
		{Project: "payments", Service: "web", Instance: "web-5d8f9-fghij", Container: "web"},
		// A pod the cache does not know keeps the kubelet's names.
		{Project: "other", Service: "stray", Instance: "stray", Container: "stray"},
	} {
		if !containers[want] {
			t.Errorf("no container reading %v in %v", want, containers)
		}
	}
	db := volumes[model.Ref{Project: "shop", Service: "db"}]
	if len(db) != 1 || db[0].Name != "data-db-0" || db[0].Used.V != 92 || db[0].Capacity.V != 100 {
		t.Errorf("db volumes %+v: want only the claim data-db-0", db)
	}
	// Two pods of one service mount the same claim: one volume reading.
	web := volumes[model.Ref{Project: "payments", Service: "web"}]
	if len(web) != 1 || web[0].Name != "uploads" {
		t.Errorf("web volumes %+v: want the claim uploads once", web)
	}
	if len(volumes) != 2 {
		t.Errorf("volume readings for %d refs, want 2 (no claim of an unknown pod): %v", len(volumes), volumes)
	}
}
