//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func TestJobsVolumesHPAsAndNodesOnACluster(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "shop")
	p := startPlatform(t, c, "") // the whole cluster: nodes are watched

	t.Run("a Job is a job whose instance ends Terminated", func(t *testing.T) {
		one := int32(1)
		j := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
			Spec: batchv1.JobSpec{Parallelism: &one, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				NodeName: kubetest.NodeName, RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "migrate", Image: "registry.example/migrate:1"}},
			}}},
		}
		if _, err := c.Client.BatchV1().Jobs("shop").Create(ctx, j, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/migrate terminated", func() error {
			svc, err := p.Service(ctx, "shop", "migrate")
			if err != nil {
				return err
			}
			if len(svc.Instances) != 1 || svc.Instances[0].Status != model.StatusTerminated {
				return fmt.Errorf("instances %+v, want one Terminated", svc.Instances)
			}
			return nil
		})
	})

	d := deployment("db", 1, nil)
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "db-data"}}}}
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "shop/db running", func() error { return serviceState(ctx, p, "shop", "db", 1) })

	t.Run("a claim's capacity and users label the service's volume", func(t *testing.T) {
		// No provisioner runs: the test creates the volume an admin would,
		// and kube-controller-manager's binder binds the claim to it and
		// gives the claim the volume's capacity.
		noClass := ""
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "db-data-pv"},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("8Gi")},
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/db-data"}},
				ClaimRef:               &corev1.ObjectReference{Namespace: "shop", Name: "db-data"},
				StorageClassName:       noClass,
			},
		}
		if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		claim := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "db-data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}},
				VolumeName:       pv.Name,
				StorageClassName: &noClass,
			},
		}
		if _, err := c.Client.CoreV1().PersistentVolumeClaims("shop").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc, err := p.Service(ctx, "shop", "db")
		if err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "volume db-data with 8Gi", func() error {
			vols, err := p.Volumes(ctx, "shop", "db")
			if err != nil {
				return err
			}
			if len(vols) != 1 || vols[0].Name != "db-data" || vols[0].Capacity != 8<<30 || !slices.Equal(vols[0].Instances, []string{svc.Instances[0].Name}) {
				return fmt.Errorf("volumes %+v", vols)
			}
			return nil
		})
	})

	t.Run("an HPA on the Deployment is found", func(t *testing.T) {
		if _, ok, err := p.HPAFor(ctx, "shop", "db"); err != nil || ok {
			t.Fatalf("before: HPA %t, %v", ok, err)
		}
		hpa := &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: "db"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "db"},
				MaxReplicas:    3,
			},
		}
		if _, err := c.Client.AutoscalingV2().HorizontalPodAutoscalers("shop").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "the HPA is seen", func() error {
			name, ok, err := p.HPAFor(ctx, "shop", "db")
			if err != nil {
				return err
			}
			if !ok || name != "db" {
				return errors.New("not yet")
			}
			return nil
		})
		// opshub's autoscaler, with the platform as its scaler, refuses
		// the Deployment even under a load that asks for more.
		db := model.Ref{Project: "shop", Service: "db"}
		var events []model.Event
		loop, err := autoscaler.NewLoop(autoscaler.LoopOptions{
			Policies: map[model.Ref]autoscaler.Policy{db: {MinReplicas: 1, MaxReplicas: 5,
				Metrics: []autoscaler.Metric{{Resource: autoscaler.CPU, TargetUtilization: 50}}, Behavior: autoscaler.DefaultBehavior()}},
			Source:  &autoscaler.PlatformSource{Platform: p, Usage: busy{}, Requests: map[model.Ref]map[autoscaler.Resource]float64{db: {autoscaler.CPU: 1}}},
			Scaler:  p,
			Publish: func(e model.Event) { events = append(events, e) },
		})
		if err != nil {
			t.Fatal(err)
		}
		loop.Pass(ctx)
		decision := loop.Decisions()[0].Decisions[0]
		if decision.Limit != autoscaler.LimitHPA || !strings.Contains(decision.Reason, `"db"`) {
			t.Errorf("decision = %s: %s; want the HPA named", decision.Limit, decision.Reason)
		}
		if len(events) != 1 || events[0].Name != model.EventAutoscalingLimited {
			t.Errorf("events = %+v, want one autoscaling.limited", events)
		}
		if svc, err := p.Service(ctx, "shop", "db"); err != nil || svc.Replicas != 1 {
			t.Errorf("replicas = %d (%v), want 1: opshub scaled a Deployment an HPA scales", svc.Replicas, err)
		}
	})

	t.Run("an instance names its node, and the node is ready", func(t *testing.T) {
		svc, err := p.Service(ctx, "shop", "db")
		if err != nil {
			t.Fatal(err)
		}
		if svc.Instances[0].Node != kubetest.NodeName {
			t.Fatalf("node = %q, want %s", svc.Instances[0].Node, kubetest.NodeName)
		}
		n, err := p.Node(ctx, kubetest.NodeName)
		if err != nil {
			t.Fatal(err)
		}
		if !n.Ready {
			t.Errorf("node %+v is not ready", n)
		}
	})
}

func TestProbeFailuresAndEvictionsOnACluster(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "shop")
	p := startPlatform(t, c, "shop")
	sinktest.Eventually(t, waitTimeout, "caches synced", func() error {
		if !p.Ready() {
			return errors.New("not yet")
		}
		return nil
	})
	sub, stop := context.WithCancel(ctx)
	defer stop()
	events := p.Subscribe(sub)

	d := deployment("api", 1, map[string]string{kubetest.DrivenAnnotation: "true"})
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	sinktest.Eventually(t, waitTimeout, "the api pod exists", func() error {
		svc, err := p.Service(ctx, "shop", "api")
		if err != nil {
			return err
		}
		if len(svc.Instances) != 1 {
			return fmt.Errorf("%d instances", len(svc.Instances))
		}
		pod, err = c.Client.CoreV1().Pods("shop").Get(ctx, svc.Instances[0].Name, metav1.GetOptions{})
		return err
	})
	// next returns the pod's next event of one of the kinds, skipping others.
	next := func(t *testing.T, kinds ...model.InstanceEventKind) model.InstanceEvent {
		t.Helper()
		deadline := time.After(waitTimeout)
		for {
			select {
			case ev := <-events:
				if ev.Ref.Instance == pod.Name && slices.Contains(kinds, ev.Kind) {
					return ev
				}
			case <-deadline:
				t.Fatalf("no %v event within %s", kinds, waitTimeout)
			}
		}
	}
	warn := func(name, reason, message string) {
		t.Helper()
		now := metav1.NewTime(time.Now())
		_, err := c.Client.CoreV1().Events("shop").Create(ctx, &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: pod.Name, UID: pod.UID,
				APIVersion: "v1", FieldPath: "spec.containers{api}"},
			Reason: reason, Message: message, Type: corev1.EventTypeWarning, Count: 1,
			FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "kubelet", Host: kubetest.NodeName},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("the kubelet's Unhealthy event is probe-failing with the probe type", func(t *testing.T) {
		warn(pod.Name+".unhealthy", "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")
		ev := next(t, model.InstanceProbeFailing)
		if ev.Probe == nil || ev.Probe.Type != "readiness" || ev.Probe.Message != "HTTP probe failed with statuscode: 503" || ev.Ref.Container != "api" {
			t.Errorf("probe-failing = %+v, probe %+v", ev, ev.Probe)
		}
	})

	t.Run("an eviction is one evicted event with the kubelet's words", func(t *testing.T) {
		const message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.Client.CoreV1().Pods("shop").Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: message,
				Conditions: []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
					Reason: "TerminationByKubelet", Message: message, LastTransitionTime: metav1.Now()}},
				// The kubelet killed the container on its way out.
				ContainerStatuses: []corev1.ContainerStatus{{Name: "api", Image: cur.Spec.Containers[0].Image,
					State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: 137, Reason: "Error", FinishedAt: metav1.Now(), ContainerID: "containerd://api-1"}}}}}
			_, err = c.Client.CoreV1().Pods("shop").UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		warn(pod.Name+".evicted", "Evicted", message)
		ev := next(t, model.InstanceEvicted)
		if ev.Reason != "Evicted" || ev.Message != message || ev.Status != model.StatusFailed {
			t.Errorf("evicted = %+v", ev)
		}
		// The Deployment replaces the pod; its old one is deleted. No
		// second evicted event may come for it meanwhile.
		if err := c.Client.CoreV1().Pods("shop").Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		ev = next(t, model.InstanceEvicted, model.InstanceStopped)
		if ev.Kind != model.InstanceStopped {
			t.Errorf("after the evicted event: %+v, want the pod stopped without a second eviction", ev)
		}
	})
}

// busy reports every container at twice its CPU request.
type busy struct{}

func (busy) Usage(model.Ref, autoscaler.Resource) (autoscaler.Sample, bool) {
	return autoscaler.Sample{Value: 2, Time: time.Now(), Window: 30 * time.Second}, true
}
