package clusterscale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/internal/kubetest"
)

// shape is the simulated cluster: nodes, and workloads of replicas pods
// spread over namespaces. Every fifth workload is a StatefulSet, every
// fourth of those with a claim per pod; each workload's pods run on one
// node (spec.nodeName, as no scheduler runs), workloads taking the nodes in
// turn.
type shape struct {
	nodes, pods, namespaces, replicas int
}

func (s shape) workloads() int { return (s.pods + s.replicas - 1) / s.replicas }

func nodeName(i int) string      { return fmt.Sprintf("node-%04d", i) }
func namespaceName(i int) string { return fmt.Sprintf("team-%03d", i) }

// crashNamespace holds the single-pod Deployments whose status the
// benchmark writes to start crash loops.
const crashNamespace = "crashers"

// controllerNamespace is the controller's: its Lease, its state and the
// collectors' Leases.
const controllerNamespace = "opshub"

// addNodes registers the simulated nodes for kwok.
func addNodes(ctx context.Context, client kubernetes.Interface, n int) error {
	for i := range n {
		_, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        nodeName(i),
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"kubernetes.io/hostname": nodeName(i), "type": "kwok", "karpenter.sh/nodepool": []string{"general", "compute"}[i%2]},
		}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("node %s: %w", nodeName(i), err)
		}
	}
	return nil
}

// podTemplate is a workload's pod: one container with requests and limits,
// on its node.
func podTemplate(app, node string, annotations map[string]string) corev1.PodTemplateSpec {
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + app + ":1", Resources: res}},
		},
	}
}

// createWorkloads creates the namespaces and workloads of s.
func createWorkloads(ctx context.Context, c *kubetest.Cluster, s shape) error {
	for i := range s.namespaces {
		if err := createNamespace(ctx, c.Client, namespaceName(i)); err != nil {
			return err
		}
	}
	left := s.pods
	for w := range s.workloads() {
		ns, name, node := namespaceName(w%s.namespaces), fmt.Sprintf("app-%04d", w), nodeName(w%s.nodes)
		replicas := int32(min(s.replicas, left))
		left -= int(replicas)
		sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
		var err error
		if w%5 == 4 {
			sts := &appsv1.StatefulSet{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.StatefulSetSpec{
					Replicas: &replicas, Selector: sel, ServiceName: name,
					PodManagementPolicy: appsv1.ParallelPodManagement,
					Template:            podTemplate(name, node, nil),
				},
			}
			if (w/5)%4 == 0 {
				sts.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
					ObjectMeta: metav1.ObjectMeta{Name: "data"},
					Spec: corev1.PersistentVolumeClaimSpec{
						AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
					},
				}}
			}
			_, err = c.Client.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{})
		} else {
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: sel, Template: podTemplate(name, node, nil)},
			}
			_, err = c.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("workload %s/%s: %w", ns, name, err)
		}
	}
	return nil
}

// createCrashers creates n single-pod Deployments whose pods kwok leaves
// alone, for the benchmark to drive into crash loops.
func createCrashers(ctx context.Context, c *kubetest.Cluster, n int) error {
	if err := createNamespace(ctx, c.Client, crashNamespace); err != nil {
		return err
	}
	one := int32(1)
	for i := range n {
		name := fmt.Sprintf("crasher-%03d", i)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: podTemplate(name, nodeName(i), map[string]string{kubetest.DrivenAnnotation: "true"})},
		}
		if _, err := c.Client.AppsV1().Deployments(crashNamespace).Create(ctx, d, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("crasher %s: %w", name, err)
		}
	}
	return nil
}

func createNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	_, err = client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("default service account in %s: %w", name, err)
	}
	return nil
}

// podWatch is the benchmark's own view of the pods: which run on which
// node (for the simulated collectors) and which to delete for churn.
type podWatch struct {
	factory informers.SharedInformerFactory
	lister  corelisters.PodLister
	synced  cache.InformerSynced
}

func watchPods(client kubernetes.Interface) *podWatch {
	f := informers.NewSharedInformerFactory(client, 0)
	inf := f.Core().V1().Pods()
	w := &podWatch{factory: f, lister: inf.Lister(), synced: inf.Informer().HasSynced}
	// Indexed by node, for the collectors' answers.
	_ = inf.Informer().AddIndexers(cache.Indexers{"node": func(obj any) ([]string, error) {
		return []string{obj.(*corev1.Pod).Spec.NodeName}, nil
	}})
	return w
}

func (w *podWatch) start(ctx context.Context) error {
	w.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), w.synced) {
		return fmt.Errorf("pod watch did not sync: %w", ctx.Err())
	}
	return nil
}

// onNode lists the running pods of node.
func (w *podWatch) onNode(node string) []*corev1.Pod {
	objs, err := w.factory.Core().V1().Pods().Informer().GetIndexer().ByIndex("node", node)
	if err != nil {
		return nil
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p := o.(*corev1.Pod); p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// running counts the workloads' pods that are Running.
func (w *podWatch) running() (running, total int) {
	pods, _ := w.lister.List(labels.Everything())
	for _, p := range pods {
		if p.Namespace == crashNamespace {
			continue
		}
		total++
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			running++
		}
	}
	return running, total
}

// churn deletes rate pods a second, picked at random among the workloads'
// running pods, until ctx ends; their controllers replace them. It returns
// how many it deleted.
func churn(ctx context.Context, client kubernetes.Interface, w *podWatch, rate float64) int {
	if rate <= 0 {
		<-ctx.Done()
		return 0
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	deleted := 0
	for {
		select {
		case <-ctx.Done():
			return deleted
		case <-t.C:
		}
		pods, _ := w.lister.List(labels.Everything())
		if len(pods) == 0 {
			continue
		}
		p := pods[rand.IntN(len(pods))]
		if p.Namespace == crashNamespace || p.DeletionTimestamp != nil {
			continue
		}
		if err := client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err == nil {
			deleted++
		}
	}
}

// setRunning writes a driven pod's status as running and ready.
func setRunning(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p = p.DeepCopy()
		now := metav1.Now()
		p.Status.Phase = corev1.PodRunning
		p.Status.PodIP, p.Status.HostIP = "10.0.0.9", "10.0.0.1"
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}}
		c := p.Spec.Containers[0]
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: c.Name, Image: c.Image, Ready: true, Started: new(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}
		_, err = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
}

// crashLoop writes a driven pod's status as the kubelet reports a
// container in CrashLoopBackOff after its third failure, and returns when
// the API server accepted it.
func crashLoop(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod) (time.Time, error) {
	var at time.Time
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p = p.DeepCopy()
		finished := time.Now().Add(-time.Second)
		c := p.Spec.Containers[0]
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: metav1.NewTime(finished)}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: c.Name, Image: c.Image, RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off 40s restarting failed container=%s pod=%s_%s(%s)", c.Name, p.Name, p.Namespace, p.UID),
			}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 1, Reason: "Error", ContainerID: "containerd://run-3",
				StartedAt: metav1.NewTime(finished.Add(-time.Second)), FinishedAt: metav1.NewTime(finished),
			}},
		}}
		at = time.Now()
		_, err = client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
	return at, err
}
