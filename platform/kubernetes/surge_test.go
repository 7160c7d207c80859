package kubernetes

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/opshub/opshub/model"
)

func TestSurgePods(t *testing.T) {
	oldRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-old", UID: "rs-old"}}
	newRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-new", UID: "rs-new"}}
	revision := func(p *corev1.Pod) int64 {
		if metav1.GetControllerOf(p).Name == "web-new" {
			return 2
		}
		return 1
	}
	at := func(name string, rs *appsv1.ReplicaSet, minute int, mutate ...func(*corev1.Pod)) *corev1.Pod {
		p := pod("shop", name, rs, kindReplicaSet)
		p.CreationTimestamp = metav1.NewTime(t0.Add(time.Duration(minute) * time.Minute))
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	deleting := func(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now }
	tests := []struct {
		name     string
		pods     []*corev1.Pod
		replicas int
		want     []string
	}{
		{"steady: one replica set", []*corev1.Pod{at("a", oldRS, 0), at("b", oldRS, 1)}, 2, nil},
		{"rolling: the newest pods above the desired count", []*corev1.Pod{at("a", oldRS, 0), at("b", oldRS, 1), at("c", newRS, 5)}, 2, []string{"c"}},
		{"rolling, halfway: new pods that replaced old ones are not surge",
			[]*corev1.Pod{at("b", oldRS, 1), at("c", newRS, 5), at("d", newRS, 6)}, 2, []string{"d"}},
		{"terminating old pods do not count", []*corev1.Pod{at("a", oldRS, 0, deleting), at("b", oldRS, 1), at("c", newRS, 5)}, 2, nil},
		{"a scale-down before pods terminate is no rollout", []*corev1.Pod{at("a", oldRS, 0), at("b", oldRS, 1), at("c", oldRS, 2)}, 2, nil},
		// Creation times are in seconds: a new pod created in the same
		// second as an old one, with a name that sorts first, is still the
		// surge one.
		{"the newer revision is surge even in the same second", []*corev1.Pod{at("x", oldRS, 0), at("y", oldRS, 5), at("a", newRS, 5)}, 2, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := surgePods(tt.pods, tt.replicas, revision)
			var names []string
			for name := range got {
				names = append(names, name)
			}
			slices.Sort(names)
			if !slices.Equal(names, tt.want) {
				t.Errorf("surge = %v, want %v", names, tt.want)
			}
		})
	}
}

func TestVolumesHPAsAndNodes(t *testing.T) {
	one := int32(1)
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", UID: "sts-db"}, Spec: appsv1.StatefulSetSpec{Replicas: &one}}
	withClaim := func(p *corev1.Pod, claim string) *corev1.Pod {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		p.Spec.NodeName = "node-1"
		return p
	}
	claim := func(name, capacity string) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("pvc-" + name)}}
		if capacity != "" {
			c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}
		}
		return c
	}
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-hpa"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
			APIVersion: "apps/v1", Kind: kindStatefulSet, Name: "db"}},
	}
	otherHPA := hpa.DeepCopy()
	otherHPA.Name, otherHPA.Spec.ScaleTargetRef.Kind = "web-hpa", kindDeployment
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
		}}}
	web := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "dep-web"}}
	p, _ := runFake(t, Options{}, db, web, hpa, otherHPA, node,
		withClaim(pod("shop", "db-0", db, kindStatefulSet), "data-db-0"),
		withClaim(withClaim(pod("shop", "db-1", db, kindStatefulSet), "data-db-1"), "shared"),
		claim("data-db-0", "10Gi"), claim("data-db-1", ""), claim("shared", "1Gi"))
	ctx := context.Background()

	t.Run("volumes are the claims the pods mount, with capacity and users", func(t *testing.T) {
		vols, err := p.Volumes(ctx, "shop", "db")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range vols {
			got = append(got, v.Name)
		}
		if !slices.Equal(got, []string{"data-db-0", "data-db-1", "shared"}) {
			t.Fatalf("volumes = %v", got)
		}
		if vols[0].Capacity != 10<<30 || !slices.Equal(vols[0].Instances, []string{"db-0"}) {
			t.Errorf("data-db-0 = %+v, want 10Gi used by db-0", vols[0])
		}
		if vols[1].Capacity != 0 {
			t.Errorf("unbound claim capacity = %d, want 0", vols[1].Capacity)
		}
	})
	t.Run("every service's volumes in one pass are each one's", func(t *testing.T) {
		all, err := p.AllVolumes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		one, _ := p.Volumes(ctx, "shop", "db")
		if got := all[model.Ref{Project: "shop", Service: "db"}]; len(got) != 3 || !reflect.DeepEqual(got, one) {
			t.Errorf("AllVolumes[shop/db] = %+v, Volumes = %+v", got, one)
		}
		if _, ok := all[model.Ref{Project: "shop", Service: "web"}]; ok {
			t.Error("web mounts no claim but has volumes")
		}
	})
	t.Run("an HPA targeting the workload is found by kind and name", func(t *testing.T) {
		name, ok, err := p.HPAFor(ctx, "shop", "db")
		if err != nil || !ok || name != "db-hpa" {
			t.Errorf("HPAFor(db) = %q, %t, %v; want db-hpa", name, ok, err)
		}
		// web-hpa targets a Deployment named db, not the Deployment web.
		if name, ok, err := p.HPAFor(ctx, "shop", "web"); err != nil || ok {
			t.Errorf("HPAFor(web) = %q, %t, %v; want none", name, ok, err)
		}
	})
	t.Run("instances carry their node, and the node its conditions", func(t *testing.T) {
		svc, err := p.Service(ctx, "shop", "db")
		if err != nil {
			t.Fatal(err)
		}
		if svc.Instances[0].Node != "node-1" {
			t.Errorf("node = %q, want node-1", svc.Instances[0].Node)
		}
		n, err := p.Node(ctx, "node-1")
		if err != nil {
			t.Fatal(err)
		}
		if !n.Ready || !n.Unschedulable || !slices.Equal(n.Pressure, []string{"MemoryPressure"}) {
			t.Errorf("node = %+v, want ready, cordoned, memory pressure", n)
		}
	})
}
