package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	"k8s.io/client-go/tools/cache"
)

// CollectorEndpoint is a live collector: its node and where its node API
// answers.
type CollectorEndpoint struct {
	Node string
	URL  string
}

// CollectorWatch watches the collectors' Leases (see Registration) in one
// namespace, for the controller.
type CollectorWatch struct {
	factory informers.SharedInformerFactory
	leases  coordlisters.LeaseLister
	synced  cache.InformerSynced
	now     func() time.Time
}

// NewCollectorWatch prepares a watch of the collector Leases in namespace;
// it makes no request until Run.
func NewCollectorWatch(client kubernetes.Interface, namespace string, now func() time.Time) (*CollectorWatch, error) {
	if client == nil {
		return nil, errors.New("kubernetes: a client is required")
	}
	if now == nil {
		now = time.Now
	}
	selector := labels.SelectorFromSet(labels.Set{
		"app.kubernetes.io/name":      "opshub",
		"app.kubernetes.io/component": "collector",
	}).String()
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := factory.Coordination().V1().Leases()
	w := &CollectorWatch{factory: factory, leases: inf.Lister(), synced: inf.Informer().HasSynced, now: now}
	return w, nil
}

// Run watches until ctx ends; it returns once the watch has stopped.
func (w *CollectorWatch) Run(ctx context.Context) error {
	w.factory.Start(ctx.Done())
	defer w.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), w.synced) {
		return fmt.Errorf("kubernetes: collector leases did not sync: %w", context.Cause(ctx))
	}
	<-ctx.Done()
	return nil
}

// Live lists the collectors whose Lease has not expired, by node. Before
// the watch has synced it lists none.
func (w *CollectorWatch) Live() []CollectorEndpoint {
	if !w.synced() {
		return nil
	}
	leases, err := w.leases.List(labels.Everything())
	if err != nil {
		return nil
	}
	now := w.now()
	var out []CollectorEndpoint
	for _, l := range leases {
		if !strings.HasPrefix(l.Name, CollectorLeasePrefix) || !leaseLive(l, now) {
			continue
		}
		node, url := l.Labels[NodeLabel], l.Annotations[URLAnnotation]
		if node == "" || url == "" {
			continue
		}
		out = append(out, CollectorEndpoint{Node: node, URL: url})
	}
	slices.SortFunc(out, func(a, b CollectorEndpoint) int { return strings.Compare(a.Node, b.Node) })
	return out
}

// leaseLive reports whether the Lease was renewed within its duration.
func leaseLive(l *coordv1.Lease, now time.Time) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	expires := l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)
	return now.Before(expires)
}
