//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/platform/kubernetes"
)

// waitTimeout bounds every wait for the cluster to reach a state.
const waitTimeout = 60 * time.Second

// startPlatform runs platform/kubernetes against the cluster for the test.
func startPlatform(t *testing.T, c *kubetest.Cluster, namespace string) *kubernetes.Platform {
	t.Helper()
	client, err := kubernetes.NewClient(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kubernetes.New(kubernetes.Options{
		Client:    client,
		Namespace: namespace,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("platform run: %v", err)
		}
		_ = p.Close()
	})
	return p
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

func deployment(name string, replicas int32, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec: corev1.PodSpec{
					// No scheduler runs: the pods name kwok's node.
					NodeName:   kubetest.NodeName,
					Containers: []corev1.Container{{Name: name, Image: "registry.example/" + name + ":1"}},
				},
			},
		},
	}
}

func serviceState(ctx context.Context, p *kubernetes.Platform, project, name string, replicas int) error {
	svc, err := p.Service(ctx, project, name)
	if err != nil {
		return err
	}
	if svc.Replicas != replicas || len(svc.Instances) != replicas {
		return fmt.Errorf("replicas %d with %d instances, want %d", svc.Replicas, len(svc.Instances), replicas)
	}
	for _, in := range svc.Instances {
		if in.Status != model.StatusRunning || !in.Ready {
			return fmt.Errorf("instance %s is %s, ready %t", in.Name, in.Status, in.Ready)
		}
	}
	return nil
}

// checkScaledThroughSubresource checks that opshub scaled a workload
// through its scale subresource: the field manager of spec.replicas says
// so, and nothing else of the object moved.
func checkScaledThroughSubresource(t *testing.T, kind string, fields []metav1.ManagedFieldsEntry) {
	t.Helper()
	var viaScale bool
	for _, mf := range fields {
		if mf.Manager == "opshub" && mf.Subresource == "scale" {
			viaScale = true
		}
		if mf.Manager == "opshub" && mf.Subresource == "" {
			t.Errorf("opshub wrote the %s object itself: %+v", kind, mf)
		}
	}
	if !viaScale {
		t.Errorf("no managed fields of opshub on %ss/scale: %+v", kind, fields)
	}
}

func TestDeploymentIsAServiceWithRunningInstances(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "shop")
	p := startPlatform(t, c, "")

	web := deployment("web", 2, nil)
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labelled := deployment("api", 1, nil)
	labelled.Labels = map[string]string{kubernetes.ProjectLabel: "payments"}
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, labelled, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("instances of a deployment become Running and ready", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "shop/web running", func() error { return serviceState(ctx, p, "shop", "web", 2) })
		svc, _ := p.Service(ctx, "shop", "web")
		for _, in := range svc.Instances {
			if in.Container != "web" || in.Restarts != 0 || in.LastExit != nil || in.StartedAt.IsZero() {
				t.Errorf("instance %+v: want container web, no restarts, no exit, a start time", in)
			}
		}
	})
	t.Run("the project label names the project", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "payments/api running", func() error { return serviceState(ctx, p, "payments", "api", 1) })
		if _, err := p.Service(ctx, "shop", "api"); !errors.Is(err, platform.ErrNotFound) {
			t.Errorf("shop/api: err = %v, want not found", err)
		}
	})
	t.Run("services are listed sorted by project and name", func(t *testing.T) {
		if names := sinktest.ServiceNames(t, p); !slices.Equal(names, []string{"payments/api", "shop/web"}) {
			t.Errorf("services = %v", names)
		}
	})
	t.Run("scale goes through the scale subresource and kwok runs the new pods", func(t *testing.T) {
		if err := p.Scale(ctx, "shop", "web", 4); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/web at 4", func() error { return serviceState(ctx, p, "shop", "web", 4) })
		d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkScaledThroughSubresource(t, "deployment", d.ManagedFields)
		if err := p.Scale(ctx, "shop", "web", 1); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/web at 1", func() error { return serviceState(ctx, p, "shop", "web", 1) })
	})
	t.Run("a StatefulSet scales through its scale subresource too", func(t *testing.T) {
		db := deployment("db", 1, nil)
		sts := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db"},
			Spec:       appsv1.StatefulSetSpec{Replicas: db.Spec.Replicas, Selector: db.Spec.Selector, Template: db.Spec.Template, ServiceName: "db"},
		}
		if _, err := c.Client.AppsV1().StatefulSets("shop").Create(ctx, sts, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/db running", func() error { return serviceState(ctx, p, "shop", "db", 1) })
		if err := p.Scale(ctx, "shop", "db", 2); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/db at 2", func() error { return serviceState(ctx, p, "shop", "db", 2) })
		got, err := c.Client.AppsV1().StatefulSets("shop").Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkScaledThroughSubresource(t, "statefulset", got.ManagedFields)
	})
	t.Run("scaling an unknown service is not found", func(t *testing.T) {
		if err := p.Scale(ctx, "shop", "nope", 1); !errors.Is(err, platform.ErrNotFound) {
			t.Errorf("err = %v, want not found", err)
		}
	})
}

// crash writes the status of a driven pod as the kubelet would after its
// container's n-th crash: restartCount n, waiting in CrashLoopBackOff, the
// last run ended with exit code 1.
func crash(ctx context.Context, c *kubetest.Cluster, ns, name string, n int32, finished time.Time, reason string, code int32) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = pod.DeepCopy()
		container := pod.Spec.Containers[0]
		backoff := time.Duration(10<<min(n-1, 5)) * time.Second
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(finished)},
		}
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: container.Name, Image: container.Image, RestartCount: n,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, container.Name, name, ns, pod.UID),
			}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, ContainerID: fmt.Sprintf("containerd://run-%d", n),
				StartedAt: metav1.NewTime(finished.Add(-time.Second)), FinishedAt: metav1.NewTime(finished),
			}},
		}}
		_, err = c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

func TestCrashLoopingPodIsCrashingAndEmitsEvents(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "batch")
	p := startPlatform(t, c, "batch")
	subCtx, stop := context.WithCancel(ctx)
	defer stop()
	sinktest.Eventually(t, waitTimeout, "caches synced", func() error {
		if !p.Ready() {
			return errors.New("not yet")
		}
		return nil
	})
	events := p.Subscribe(subCtx)

	d := deployment("worker", 1, map[string]string{kubetest.DrivenAnnotation: "true"})
	if _, err := c.Client.AppsV1().Deployments("batch").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod string
	sinktest.Eventually(t, waitTimeout, "the worker pod exists", func() error {
		svc, err := p.Service(ctx, "batch", "worker")
		if err != nil {
			return err
		}
		if len(svc.Instances) != 1 {
			return fmt.Errorf("%d instances", len(svc.Instances))
		}
		pod = svc.Instances[0].Name
		if svc.Instances[0].Status != model.StatusStaging {
			return fmt.Errorf("status %s, want Staging: kwok must leave a driven pod alone", svc.Instances[0].Status)
		}
		return nil
	})

	// nextEvents collects the pod's events until one of kind last arrives.
	nextEvents := func(t *testing.T, last model.InstanceEventKind) []model.InstanceEvent {
		t.Helper()
		var got []model.InstanceEvent
		deadline := time.After(waitTimeout)
		for {
			select {
			case ev := <-events:
				if ev.Ref.Instance != pod {
					continue
				}
				got = append(got, ev)
				if ev.Kind == last {
					return got
				}
			case <-deadline:
				t.Fatalf("no %s event within %s; got %v", last, waitTimeout, got)
			}
		}
	}

	base := time.Now().UTC().Truncate(time.Second)
	t.Run("each crash emits exited, restarted and backoff in order", func(t *testing.T) {
		// Each crash is written after the previous one's events arrived,
		// as a kubelet reports them seconds apart.
		for n := 1; n <= 3; n++ {
			if err := crash(ctx, c, "batch", pod, int32(n), base.Add(time.Duration(n)*10*time.Second), "Error", 1); err != nil {
				t.Fatalf("crash %d: %v", n, err)
			}
			got := nextEvents(t, model.InstanceBackoff)
			var kinds []model.InstanceEventKind
			for _, ev := range got {
				kinds = append(kinds, ev.Kind)
				if ev.Ref != (model.Ref{Project: "batch", Service: "worker", Instance: pod, Container: "worker"}) {
					t.Errorf("event ref = %v", ev.Ref)
				}
				if ev.Status != model.StatusCrashing {
					t.Errorf("crash %d: %s event status = %s, want Crashing", n, ev.Kind, ev.Status)
				}
				switch ev.Kind {
				case model.InstanceExited:
					if ev.Restarts != n-1 || ev.Exit == nil || ev.Exit.Code != 1 || ev.Exit.Reason != "Error" {
						t.Errorf("crash %d: exited restarts %d exit %+v, want run %d, code 1, Error", n, ev.Restarts, ev.Exit, n-1)
					}
				case model.InstanceRestarted:
					if ev.Restarts != n || ev.Exit == nil || ev.Exit.Code != 1 {
						t.Errorf("crash %d: restarted restarts %d exit %+v, want %d, code 1", n, ev.Restarts, ev.Exit, n)
					}
				case model.InstanceBackoff:
					if want := time.Duration(10<<(n-1)) * time.Second; ev.Backoff != want {
						t.Errorf("crash %d: backoff %s, want %s", n, ev.Backoff, want)
					}
					wantMessage := fmt.Sprintf("back-off %s restarting failed container=worker pod=%s_batch(", time.Duration(10<<(n-1))*time.Second, pod)
					if ev.Reason != "CrashLoopBackOff" || !strings.HasPrefix(ev.Message, wantMessage) {
						t.Errorf("crash %d: backoff reason %q, message %q; want CrashLoopBackOff and the kubelet's message", n, ev.Reason, ev.Message)
					}
				}
			}
			want := []model.InstanceEventKind{model.InstanceExited, model.InstanceRestarted, model.InstanceBackoff}
			if !slices.Equal(kinds, want) {
				t.Errorf("crash %d: events %v, want %v", n, kinds, want)
			}
		}
	})

	t.Run("the instance is Crashing with its restarts and last exit", func(t *testing.T) {
		svc, err := p.Service(ctx, "batch", "worker")
		if err != nil {
			t.Fatal(err)
		}
		in := svc.Instances[0]
		if in.Status != model.StatusCrashing || in.Ready || in.Restarts != 3 {
			t.Errorf("instance is %s, ready %t, restarts %d; want Crashing, not ready, 3", in.Status, in.Ready, in.Restarts)
		}
		if in.LastExit == nil || in.LastExit.Code != 1 || in.LastExit.Reason != "Error" || !in.LastExit.Time.Equal(base.Add(30*time.Second)) {
			t.Errorf("last exit = %+v, want code 1, Error, at the third crash", in.LastExit)
		}
		if in.Backoff != "40s" {
			t.Errorf("backoff = %q, want 40s from the kubelet's message", in.Backoff)
		}
	})

	t.Run("an OOM kill emits oom-killed", func(t *testing.T) {
		if err := crash(ctx, c, "batch", pod, 4, base.Add(40*time.Second), "OOMKilled", 137); err != nil {
			t.Fatal(err)
		}
		got := nextEvents(t, model.InstanceBackoff)
		var oom *model.InstanceEvent
		for i := range got {
			if got[i].Kind == model.InstanceOOMKilled {
				oom = &got[i]
			}
		}
		if oom == nil {
			t.Fatalf("no oom-killed event in %v", got)
		}
		if oom.Exit == nil || !oom.Exit.OOMKilled || oom.Exit.Code != 137 {
			t.Errorf("oom-killed exit = %+v, want OOMKilled, code 137", oom.Exit)
		}
	})
}
