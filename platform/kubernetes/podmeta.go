package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// PodMeta is what a collector knows about one pod of its node: enough to
// enrich the pod's log lines and metrics without asking the API server.
type PodMeta struct {
	Namespace, Name, UID string
	// Project is the pod's opshub.dev/project label, else its namespace.
	Project string
	// Service is the Deployment or StatefulSet that controls the pod; for
	// pods of other controllers (DaemonSet, Job, a bare ReplicaSet) the
	// controller's name, and for a pod without one the pod's own name.
	Service string
	// Workload says which: "Deployment", "StatefulSet", another
	// controller's kind, or "" for a bare pod.
	Workload string
	// DefaultContainer is the instance's container (the
	// kubectl.kubernetes.io/default-container annotation, else the first).
	DefaultContainer string
	// Labels and Annotations are the pod's own; they must not be changed.
	Labels, Annotations map[string]string
	// Claims maps the name of each pod volume that is a
	// PersistentVolumeClaim to the claim's name.
	Claims map[string]string
	// Deleted is when the pod was seen deleted; zero while it exists.
	Deleted time.Time
}

// DefaultDeletedRetention is how long a deleted pod's metadata is kept at
// least, so that its last log lines are still enriched.
const DefaultDeletedRetention = 5 * time.Minute

// NodePodsOptions configure NodePods.
type NodePodsOptions struct {
	Client kubernetes.Interface
	// Node is the node whose pods are watched. Required.
	Node string
	// Retain keeps a deleted pod at least this long; default
	// DefaultDeletedRetention.
	Retain time.Duration
	// Draining, when set, reports whether a deleted pod still has log files
	// on the node; such a pod is kept past Retain until it has none.
	Draining func(PodMeta) bool
	// SweepInterval is how often deleted pods are looked at; default 1m.
	SweepInterval time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// NodePods keeps the metadata of the pods of one node from a single watch
// (a spec.nodeName field selector): it makes no request per pod, so a
// collector costs the API server the same whatever its node runs.
//
// Callers may rely on: lookups never block on the network and answer from
// memory; a deleted pod is still found for at least Retain and while
// Draining says its files are there; PodMeta values are never changed after
// they are handed out.
type NodePods struct {
	opts     NodePodsOptions
	log      *slog.Logger
	factory  informers.SharedInformerFactory
	informer cache.SharedIndexInformer

	mu     sync.RWMutex
	byUID  map[string]*PodMeta
	byName map[string]*PodMeta // namespace/name → the newest pod of that name

	synced chan struct{}
}

// NewNodePods prepares the watch; it makes no request until Run.
func NewNodePods(opts NodePodsOptions) (*NodePods, error) {
	if opts.Client == nil {
		return nil, errors.New("kubernetes: a client is required")
	}
	if opts.Node == "" {
		return nil, errors.New("kubernetes: the node to watch is required")
	}
	if opts.Retain <= 0 {
		opts.Retain = DefaultDeletedRetention
	}
	if opts.SweepInterval <= 0 {
		opts.SweepInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	selector := fields.OneTermEqualSelector("spec.nodeName", opts.Node).String()
	factory := informers.NewSharedInformerFactoryWithOptions(opts.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = selector }))
	inf := factory.Core().V1().Pods().Informer()
	n := &NodePods{
		opts:     opts,
		log:      opts.Logger.With("component", "kubernetes", "node", opts.Node),
		factory:  factory,
		informer: inf,
		byUID:    map[string]*PodMeta{},
		byName:   map[string]*PodMeta{},
		synced:   make(chan struct{}),
	}
	// The cache holds only what enrichment needs: no status, no managed
	// fields, no container specs beyond their names.
	if err := inf.SetTransform(trimPod); err != nil {
		return nil, fmt.Errorf("kubernetes: pod transform: %w", err)
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    n.put,
		UpdateFunc: func(_, obj any) { n.put(obj) },
		DeleteFunc: n.deleted,
	}); err != nil {
		return nil, fmt.Errorf("kubernetes: pod handler: %w", err)
	}
	return n, nil
}

// trimPod keeps the parts of a pod that PodMeta is made of.
func trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
		Labels: pod.Labels, Annotations: pod.Annotations, OwnerReferences: pod.OwnerReferences,
		DeletionTimestamp: pod.DeletionTimestamp,
	}}
	out.Spec.NodeName = pod.Spec.NodeName
	for _, c := range pod.Spec.Containers {
		out.Spec.Containers = append(out.Spec.Containers, corev1.Container{Name: c.Name})
	}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{Name: v.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.PersistentVolumeClaim.ClaimName},
			}})
		}
	}
	return out, nil
}

// podMeta turns a (trimmed) pod into its metadata.
func podMeta(pod *corev1.Pod) *PodMeta {
	m := &PodMeta{
		Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID),
		Project:          pod.Labels[ProjectLabel],
		DefaultContainer: defaultContainer(pod),
		Labels:           maps.Clone(pod.Labels),
		Annotations:      maps.Clone(pod.Annotations),
	}
	if m.Project == "" {
		m.Project = pod.Namespace
	}
	m.Workload, m.Service = serviceFromOwner(pod)
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			if m.Claims == nil {
				m.Claims = map[string]string{}
			}
			m.Claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	return m
}

// serviceFromOwner names a pod's service from its controller reference
// alone, without reading the owner: a StatefulSet owns its pods directly,
// and the Deployment controller names a ReplicaSet
// "<deployment>-<pod-template-hash>" and puts the hash on the pod as the
// pod-template-hash label. A ReplicaSet whose name does not end in its pods'
// hash was not made by a Deployment and is its own service.
func serviceFromOwner(pod *corev1.Pod) (kind, name string) {
	owner := metav1.GetControllerOf(pod)
	if owner == nil {
		return "", pod.Name
	}
	if owner.Kind == kindReplicaSet {
		if hash := pod.Labels["pod-template-hash"]; hash != "" {
			if d, ok := strings.CutSuffix(owner.Name, "-"+hash); ok && d != "" {
				return kindDeployment, d
			}
		}
	}
	return owner.Kind, owner.Name
}

func (n *NodePods) put(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	m := podMeta(pod)
	n.mu.Lock()
	n.byUID[m.UID] = m
	n.byName[m.Namespace+"/"+m.Name] = m
	n.mu.Unlock()
}

// deleted keeps the pod's metadata, marked with the time it went, until the
// sweep finds it drained.
func (n *NodePods) deleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	m := podMeta(pod)
	m.Deleted = n.opts.Now()
	n.mu.Lock()
	n.byUID[m.UID] = m
	if cur := n.byName[m.Namespace+"/"+m.Name]; cur == nil || cur.UID == m.UID {
		n.byName[m.Namespace+"/"+m.Name] = m
	}
	n.mu.Unlock()
}

// Run watches until ctx ends. It returns an error only when the first list
// never completes.
func (n *NodePods) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.factory.Start(ctx.Done())
	defer n.factory.Shutdown()
	// client-go retries a refused list quietly; say what usually is wrong.
	slow := time.AfterFunc(30*time.Second, func() {
		n.log.Warn("the node's pods are not listed after 30s; is the API server reachable, and may this ServiceAccount list and watch pods?")
	})
	synced := cache.WaitForCacheSync(ctx.Done(), n.informer.HasSynced)
	slow.Stop()
	if !synced {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("kubernetes: pod cache of the node did not sync")
	}
	n.mu.RLock()
	count := len(n.byUID)
	n.mu.RUnlock()
	n.log.Info("watching the node's pods", "pods", count)
	close(n.synced)
	tick := time.NewTicker(n.opts.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			n.Sweep()
		}
	}
}

// Synced is closed once the first list of the node's pods is in memory.
func (n *NodePods) Synced() <-chan struct{} { return n.synced }

// Ready reports whether the first list is in memory.
func (n *NodePods) Ready() bool {
	select {
	case <-n.synced:
		return true
	default:
		return false
	}
}

// Sweep forgets deleted pods older than Retain whose files are gone. Run
// calls it every SweepInterval.
func (n *NodePods) Sweep() {
	cutoff := n.opts.Now().Add(-n.opts.Retain)
	n.mu.RLock()
	var old []*PodMeta
	for _, m := range n.byUID {
		if !m.Deleted.IsZero() && m.Deleted.Before(cutoff) {
			old = append(old, m)
		}
	}
	n.mu.RUnlock()
	for _, m := range old {
		// Draining looks at the disk: ask it without the lock.
		if n.opts.Draining != nil && n.opts.Draining(*m) {
			continue
		}
		n.mu.Lock()
		if n.byUID[m.UID] == m {
			delete(n.byUID, m.UID)
		}
		if key := m.Namespace + "/" + m.Name; n.byName[key] == m {
			delete(n.byName, key)
		}
		n.mu.Unlock()
	}
}

// ByUID returns the pod with the UID, deleted or not.
func (n *NodePods) ByUID(uid string) (PodMeta, bool) {
	n.mu.RLock()
	m := n.byUID[uid]
	n.mu.RUnlock()
	if m == nil {
		return PodMeta{}, false
	}
	return *m, true
}

// ByName returns the newest pod of that name in the namespace.
func (n *NodePods) ByName(namespace, name string) (PodMeta, bool) {
	n.mu.RLock()
	m := n.byName[namespace+"/"+name]
	n.mu.RUnlock()
	if m == nil {
		return PodMeta{}, false
	}
	return *m, true
}

// Len returns the number of pods held, deleted ones included.
func (n *NodePods) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.byUID)
}

// trimCached drops what the platform's caches never read from an object:
// its managed fields, and a node's list of images (which runs to tens of
// kilobytes a node).
func trimCached(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	if n, ok := obj.(*corev1.Node); ok {
		n.Status.Images = nil
	}
	return obj, nil
}
