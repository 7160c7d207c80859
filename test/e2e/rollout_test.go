//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
)

// rolloutDone polls RolloutStatus until the rollout is done, and fails on
// a failed rollout. It returns the messages seen on the way.
func rolloutDone(t *testing.T, ctx context.Context, p *kubernetes.Platform, project, service string) []string {
	t.Helper()
	var seen []string
	sinktest.Eventually(t, waitTimeout, project+"/"+service+" rolled out", func() error {
		st, err := p.RolloutStatus(ctx, project, service)
		if err != nil {
			return err
		}
		if len(seen) == 0 || seen[len(seen)-1] != st.Message {
			seen = append(seen, st.Message)
		}
		if st.Failed {
			t.Fatalf("rollout failed: %s", st.Message)
		}
		if !st.Done {
			return fmt.Errorf("%s", st.Message)
		}
		return nil
	})
	return seen
}

func TestRolloutOfADeploymentCompletesAndUndoes(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "shop")
	p := startPlatform(t, c, "shop")
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, deployment("web", 3, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "shop/web running", func() error { return serviceState(ctx, p, "shop", "web", 3) })
	rolloutDone(t, ctx, p, "shop", "web")

	images := func() (map[string]int, error) {
		svc, err := p.Service(ctx, "shop", "web")
		if err != nil {
			return nil, err
		}
		out := map[string]int{}
		for _, in := range svc.Instances {
			pod, err := c.Client.CoreV1().Pods("shop").Get(ctx, in.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			out[pod.Spec.Containers[0].Image]++
		}
		return out, nil
	}

	t.Run("a new image rolls out to completion", func(t *testing.T) {
		if err := p.Rollout(ctx, "shop", "web", kubernetes.RolloutChange{Image: "registry.example/web:2", Cause: "release 2"}); err != nil {
			t.Fatal(err)
		}
		st, err := p.RolloutStatus(ctx, "shop", "web")
		if err != nil {
			t.Fatal(err)
		}
		if st.Done {
			t.Errorf("right after the change the rollout is done already: %q", st.Message)
		}
		msgs := rolloutDone(t, ctx, p, "shop", "web")
		t.Logf("rollout status messages: %q", msgs)
		if last := msgs[len(msgs)-1]; last != `deployment "web" successfully rolled out` {
			t.Errorf("last message = %q", last)
		}
		sinktest.Eventually(t, waitTimeout, "every instance runs web:2", func() error {
			got, err := images()
			if err != nil {
				return err
			}
			if got["registry.example/web:2"] != 3 || len(got) != 1 {
				return fmt.Errorf("images %v", got)
			}
			return serviceState(ctx, p, "shop", "web", 3)
		})
		rs, err := c.Client.AppsV1().ReplicaSets("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			t.Fatal(err)
		}
		var recorded bool
		for _, r := range rs.Items {
			if r.Annotations[kubernetes.ChangeCauseAnnotation] == "release 2" && r.Annotations["deployment.kubernetes.io/revision"] == "2" {
				recorded = true
			}
		}
		if !recorded {
			t.Error("no ReplicaSet of revision 2 records the change cause, as kubectl rollout history would show it")
		}
	})

	t.Run("undo goes back to the previous template", func(t *testing.T) {
		to, err := p.Undo(ctx, "shop", "web", 0)
		if err != nil {
			t.Fatal(err)
		}
		if to != 1 {
			t.Errorf("undo went back to revision %d, want 1", to)
		}
		rolloutDone(t, ctx, p, "shop", "web")
		sinktest.Eventually(t, waitTimeout, "every instance runs web:1 again", func() error {
			got, err := images()
			if err != nil {
				return err
			}
			if got["registry.example/web:1"] != 3 || len(got) != 1 {
				return fmt.Errorf("images %v", got)
			}
			return nil
		})
	})
}

func TestRolloutPastItsProgressDeadlineFails(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "shop")
	p := startPlatform(t, c, "shop")
	d := deployment("web", 2, nil)
	deadline := int32(5)
	d.Spec.ProgressDeadlineSeconds = &deadline
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "shop/web running", func() error { return serviceState(ctx, p, "shop", "web", 2) })
	rolloutDone(t, ctx, p, "shop", "web")

	// The new pods are driven: kwok leaves them Pending, as pods whose
	// image never pulls would stay. The Deployment is paused while the
	// test marks the template and opshub changes the image, so that both
	// make one new revision.
	setDeployment := func(edit func(*appsv1.Deployment)) {
		t.Helper()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			edit(cur)
			_, err = c.Client.AppsV1().Deployments("shop").Update(ctx, cur, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	setDeployment(func(d *appsv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.Template.Annotations = map[string]string{kubetest.DrivenAnnotation: "true"}
	})
	if err := p.Rollout(ctx, "shop", "web", kubernetes.RolloutChange{Image: "registry.example/web:broken"}); err != nil {
		t.Fatal(err)
	}
	setDeployment(func(d *appsv1.Deployment) { d.Spec.Paused = false })
	start := time.Now()
	var st kubernetes.RolloutState
	sinktest.Eventually(t, waitTimeout, "the rollout fails", func() error {
		var err error
		st, err = p.RolloutStatus(ctx, "shop", "web")
		if err != nil {
			return err
		}
		if st.Done {
			t.Fatalf("a rollout whose pods never become ready is done: %q", st.Message)
		}
		if !st.Failed {
			return fmt.Errorf("%s", st.Message)
		}
		return nil
	})
	t.Logf("failed after %s: %s", time.Since(start).Round(time.Second), st.Message)
	if st.Message != `deployment "web" exceeded its progress deadline` {
		t.Errorf("message = %q", st.Message)
	}

	t.Run("the old pods keep serving, and the surge pod is marked", func(t *testing.T) {
		svc, err := p.Service(ctx, "shop", "web")
		if err != nil {
			t.Fatal(err)
		}
		var ready, surge int
		for _, in := range svc.Instances {
			if in.Ready {
				ready++
			}
			if in.Surge {
				surge++
				if in.Status != model.StatusStaging || !strings.Contains(in.Name, "web-") {
					t.Errorf("surge instance %s is %s, want a Staging new pod", in.Name, in.Status)
				}
			}
		}
		// maxSurge 25 % of 2 rounds up to 1, maxUnavailable rounds down
		// to 0: one new pod above the two old ones.
		if ready != 2 || surge != 1 || len(svc.Instances) != 3 {
			t.Errorf("%d instances, %d ready, %d surge; want 3, 2, 1", len(svc.Instances), ready, surge)
		}
	})
}

func TestRolloutOfAStatefulSetCompletesAndUndoes(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "shop")
	p := startPlatform(t, c, "shop")
	d := deployment("db", 2, nil) // its spec is the StatefulSet's too
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template, ServiceName: "db",
			PodManagementPolicy: appsv1.ParallelPodManagement,
		},
	}
	if _, err := c.Client.AppsV1().StatefulSets("shop").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "shop/db running", func() error { return serviceState(ctx, p, "shop", "db", 2) })
	rolloutDone(t, ctx, p, "shop", "db")
	imageOf := func(name string) (string, error) {
		pod, err := c.Client.CoreV1().Pods("shop").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		return pod.Spec.Containers[0].Image, nil
	}
	everyPodRuns := func(image string) func() error {
		return func() error {
			for _, name := range []string{"db-0", "db-1"} {
				got, err := imageOf(name)
				if err != nil {
					return err
				}
				if got != image {
					return fmt.Errorf("%s runs %s", name, got)
				}
			}
			return serviceState(ctx, p, "shop", "db", 2)
		}
	}

	if err := p.Rollout(ctx, "shop", "db", kubernetes.RolloutChange{Image: "registry.example/db:2", Env: map[string]string{"MODE": "fast"}}); err != nil {
		t.Fatal(err)
	}
	msgs := rolloutDone(t, ctx, p, "shop", "db")
	t.Logf("rollout status messages: %q", msgs)
	// The API server defaults rollingUpdate.partition to 0, so kubectl
	// (and opshub) judge it as a partitioned roll out.
	if last := msgs[len(msgs)-1]; last != "partitioned roll out complete: 2 new pods have been updated..." {
		t.Errorf("last message = %q", last)
	}
	sinktest.Eventually(t, waitTimeout, "every pod runs db:2", everyPodRuns("registry.example/db:2"))

	to, err := p.Undo(ctx, "shop", "db", 0)
	if err != nil {
		t.Fatal(err)
	}
	if to != 1 {
		t.Errorf("undo went back to revision %d, want 1", to)
	}
	rolloutDone(t, ctx, p, "shop", "db")
	sinktest.Eventually(t, waitTimeout, "every pod runs db:1 again", everyPodRuns("registry.example/db:1"))
	got, err := c.Client.AppsV1().StatefulSets("shop").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if env := got.Spec.Template.Spec.Containers[0].Env; len(env) != 0 {
		t.Errorf("env after undo = %v, want the first revision's (none)", env)
	}
}
