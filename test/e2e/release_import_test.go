//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/release"
	"github.com/opshub/opshub/store"
	"github.com/opshub/opshub/store/kubestate"
)

// A new leader records the history of every workload it finds in a few
// writes of its replicated state, not one per workload: each write copies
// the state into the API server.
func TestNewLeaderImportsEveryHistoryInAFewWrites(t *testing.T) {
	const workloads = 60
	c := kubetest.Start(t, kubetest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	zero := int32(0)
	for i := range workloads {
		name := fmt.Sprintf("app-%02d", i)
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}}}},
		}
		if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Every Deployment's controller has acted on it (its first
	// ReplicaSet, revision 1, exists) before the leader looks, as on a
	// cluster a new leader takes over.
	sinktest.Eventually(t, time.Minute, "every Deployment observed by its controller", func() error {
		list, err := c.Client.AppsV1().Deployments("shop").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		n := 0
		for _, d := range list.Items {
			if d.Status.ObservedGeneration >= d.Generation {
				n++
			}
		}
		if n < workloads {
			return fmt.Errorf("%d of %d Deployments observed", n, workloads)
		}
		return nil
	})

	plat, err := kubernetes.New(kubernetes.Options{Client: c.Client})
	if err != nil {
		t.Fatal(err)
	}
	defer plat.Close()
	go func() { _ = plat.Run(ctx, 2) }()
	var saves atomic.Int64
	db, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "state.db"), kubestate.New(c.Client, "shop", "state"),
		store.WithSaveObserver(func(s store.SaveInfo) {
			if s.Err == nil {
				saves.Add(1)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, err := release.New(release.Options{Platform: plat, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	before := saves.Load()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	sinktest.Eventually(t, 2*time.Minute, "every workload's history", func() error {
		for i := range workloads {
			ref := model.Ref{Project: "shop", Service: fmt.Sprintf("app-%02d", i)}
			rels, err := m.Releases(ctx, ref)
			if err != nil {
				return err
			}
			if len(rels) != 1 {
				return fmt.Errorf("%s: %d releases", ref, len(rels))
			}
			r := rels[0]
			if r.Revision != 1 || r.State != model.ReleaseSucceeded || r.Trigger.Kind != model.TriggerExternal || r.PlatformRevision != 1 ||
				r.Spec.Images["app"] != "registry.example/"+ref.Service+":1" {
				return fmt.Errorf("%s: %+v", ref, r)
			}
		}
		return nil
	})
	if n := saves.Load() - before; n > 3 {
		t.Errorf("the histories of %d workloads took %d writes of the state, want at most 3", workloads, n)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
