package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

var _ platform.Platform = (*Platform)(nil)

// ownerRetries is how often a pod whose owner is not cached yet is looked at
// again before its events are given up. The queue's back-off doubles from
// 5 ms, so twelve retries wait about 20 s in all: time enough for a
// ReplicaSet's watch event to arrive on a busy API server.
const ownerRetries = 12

// Options configure a Platform.
type Options struct {
	// Client talks to the API server; NewClient makes one from a kubeconfig.
	Client kubernetes.Interface
	// Namespace limits the watch to one namespace; empty watches the whole
	// cluster. Nodes are watched only for the whole cluster, because a
	// Role in one namespace cannot grant them.
	Namespace string
	// Resync replays the caches to the workers this often; zero never does.
	Resync time.Duration
	// Logger gets the platform's logs, scoped with component=kubernetes.
	Logger *slog.Logger
	// Registerer gets the platform's self-metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock events are stamped with; default time.Now.
	Now func() time.Time
}

// Platform presents a Kubernetes cluster as a platform.Platform.
type Platform struct {
	client kubernetes.Interface
	log    *slog.Logger
	now    func() time.Time

	factory      informers.SharedInformerFactory
	pods         corelisters.PodLister
	podIndex     cache.Indexer
	replicaSets  appslisters.ReplicaSetLister
	rsIndex      cache.Indexer
	deployments  appslisters.DeploymentLister
	statefulSets appslisters.StatefulSetLister
	jobs         batchlisters.JobLister
	jobIndex     cache.Indexer
	claims       corelisters.PersistentVolumeClaimLister
	hpas         autoscalinglisters.HorizontalPodAutoscalerLister
	nodes        corelisters.NodeLister // nil when limited to a namespace
	// eventFactory watches the Warning events of pods only, so it has
	// list options of its own.
	eventFactory informers.SharedInformerFactory
	kubeEvents   corelisters.EventLister
	cacheSynced  []cache.InformerSynced

	queue workqueue.TypedRateLimitingInterface[string]
	subs  *platform.Broadcaster

	mu           sync.Mutex
	observations map[string]*podObservation // by pod key
	// evicted holds the pods an evicted event was sent for, so that the
	// pod's status and the kubelet's Evicted event yield one between them.
	evicted map[types.UID]bool
	// reports counts the occurrences of each Kubernetes event handled, by
	// the event's UID, so an update that only touches it says nothing.
	reports map[types.UID]int32
	// written holds, by workload UID, the generation of the last pod
	// template SetTemplate wrote, so that ObservedTemplates does not take
	// a cache that has not seen it yet for a change made outside opshub.
	written map[types.UID]int64
	// writers names, by workload, who made the change that gave it its
	// generation, from the managed fields that change altered (see
	// noteWriter); guarded by mu.
	writers map[types.UID]generationWriter

	synced chan struct{} // closed once the caches are filled
	// closed ends Run; Close cancels it.
	closed context.Context
	close  context.CancelFunc
}

// New prepares a platform over the cluster opts.Client talks to. It makes no
// request; Run starts the watches.
func New(opts Options) (*Platform, error) {
	if opts.Client == nil {
		return nil, errors.New("kubernetes: a client is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "opshub_kubernetes_events_dropped_total",
		Help: "Instance events dropped because a subscriber fell behind.",
	})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(dropped); err != nil {
			return nil, fmt.Errorf("kubernetes: register metrics: %w", err)
		}
	}

	factory := informers.NewSharedInformerFactoryWithOptions(opts.Client, opts.Resync, informers.WithNamespace(opts.Namespace))
	pods := factory.Core().V1().Pods()
	rs := factory.Apps().V1().ReplicaSets()
	deps := factory.Apps().V1().Deployments()
	sts := factory.Apps().V1().StatefulSets()
	jobs := factory.Batch().V1().Jobs()
	claims := factory.Core().V1().PersistentVolumeClaims()
	hpas := factory.Autoscaling().V2().HorizontalPodAutoscalers()
	eventFactory := informers.NewSharedInformerFactoryWithOptions(opts.Client, opts.Resync,
		informers.WithNamespace(opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = podWarnings }))
	kubeEvents := eventFactory.Core().V1().Events()
	p := &Platform{
		client:       opts.Client,
		log:          log.With("component", "kubernetes"),
		now:          now,
		factory:      factory,
		pods:         pods.Lister(),
		podIndex:     pods.Informer().GetIndexer(),
		replicaSets:  rs.Lister(),
		rsIndex:      rs.Informer().GetIndexer(),
		deployments:  deps.Lister(),
		statefulSets: sts.Lister(),
		jobs:         jobs.Lister(),
		jobIndex:     jobs.Informer().GetIndexer(),
		claims:       claims.Lister(),
		hpas:         hpas.Lister(),
		eventFactory: eventFactory,
		kubeEvents:   kubeEvents.Lister(),
		cacheSynced: []cache.InformerSynced{
			pods.Informer().HasSynced, rs.Informer().HasSynced,
			deps.Informer().HasSynced, sts.Informer().HasSynced,
			jobs.Informer().HasSynced, claims.Informer().HasSynced,
			hpas.Informer().HasSynced, kubeEvents.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "opshub-pods"}),
		subs:         platform.NewBroadcaster(platform.SubscriberBuffer, dropped.Inc),
		observations: map[string]*podObservation{},
		evicted:      map[types.UID]bool{},
		reports:      map[types.UID]int32{},
		written:      map[types.UID]int64{},
		writers:      map[types.UID]generationWriter{},
		synced:       make(chan struct{}),
	}
	if opts.Namespace == "" {
		nodes := factory.Core().V1().Nodes()
		p.nodes = nodes.Lister()
		p.cacheSynced = append(p.cacheSynced, nodes.Informer().HasSynced)
	}
	p.closed, p.close = context.WithCancel(context.Background())
	for _, inf := range []cache.SharedIndexInformer{pods.Informer(), rs.Informer(), jobs.Informer()} {
		if err := inf.AddIndexers(cache.Indexers{byController: controllerUIDIndex}); err != nil {
			return nil, fmt.Errorf("kubernetes: add index: %w", err)
		}
	}
	// The caches of objects the platform reads but never writes back keep
	// no managed fields (the pods' alone grow with every status update of
	// every pod). Deployments and StatefulSets keep theirs: lastWriter
	// names who changed a template from them.
	trimmed := []cache.SharedIndexInformer{pods.Informer(), rs.Informer(), jobs.Informer(), claims.Informer(), hpas.Informer(), kubeEvents.Informer()}
	if p.nodes != nil {
		trimmed = append(trimmed, factory.Core().V1().Nodes().Informer())
	}
	for _, inf := range trimmed {
		if err := inf.SetTransform(trimCached); err != nil {
			return nil, fmt.Errorf("kubernetes: cache transform: %w", err)
		}
	}
	for _, inf := range []cache.SharedIndexInformer{deps.Informer(), sts.Informer()} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: p.noteWriter, DeleteFunc: p.forgetWriter}); err != nil {
			return nil, fmt.Errorf("kubernetes: workload handler: %w", err)
		}
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if initial {
				p.seed(obj)
			}
			p.enqueue(obj)
		},
		UpdateFunc: func(_, obj any) { p.enqueue(obj) },
		DeleteFunc: p.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("kubernetes: pod handler: %w", err)
	}
	if _, err := kubeEvents.Informer().AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if initial {
				p.seedEvent(obj)
				return
			}
			p.enqueueEvent(obj)
		},
		UpdateFunc: func(_, obj any) { p.enqueueEvent(obj) },
		DeleteFunc: p.forgetEvent,
	}); err != nil {
		return nil, fmt.Errorf("kubernetes: event handler: %w", err)
	}
	return p, nil
}

// seed records a pod that existed before the platform started, without
// events: Subscribe promises only what happens from now on.
func (p *Platform) seed(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return
	}
	o := observe(pod, model.Ref{})
	p.mu.Lock()
	p.observations[key] = &o
	if _, ok := evictionOf(pod); ok {
		p.evicted[pod.UID] = true // evicted before the watch: said nothing then
	}
	p.mu.Unlock()
}

func (p *Platform) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		p.log.Warn("pod without a key", "err", err)
		return
	}
	p.queue.Add(key)
}

// Run watches the cluster until ctx ends or Close is called. It waits for
// the caches to fill before its workers look at any pod, and returns after
// every goroutine it started has ended. It may be called once.
func (p *Platform) Run(ctx context.Context, workers int) error {
	if workers < 1 {
		workers = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopOnClose := context.AfterFunc(p.closed, cancel)
	defer stopOnClose()

	p.log.Info("starting watches")
	p.factory.Start(ctx.Done())
	defer p.factory.Shutdown() // waits for the informers' goroutines
	p.eventFactory.Start(ctx.Done())
	defer p.eventFactory.Shutdown()
	if !cache.WaitForNamedCacheSyncWithContext(ctx, p.cacheSynced...) {
		return fmt.Errorf("kubernetes: caches did not sync: %w", context.Cause(ctx))
	}
	close(p.synced)
	p.log.Info("caches synced", "workers", workers)

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for p.processNext(ctx) {
			}
		})
	}
	<-ctx.Done()
	p.queue.ShutDown()
	wg.Wait()
	return nil
}

// Ready reports whether the caches are filled.
func (p *Platform) Ready() bool {
	select {
	case <-p.synced:
		return true
	default:
		return false
	}
}

// Close stops Run. It may be called more than once.
func (p *Platform) Close() error {
	p.close() // a CancelFunc may be called more than once
	return nil
}

func (p *Platform) processNext(ctx context.Context) bool {
	key, shutdown := p.queue.Get()
	if shutdown {
		return false
	}
	defer p.queue.Done(key)
	var err error
	if ev, ok := strings.CutPrefix(key, eventKeyPrefix); ok {
		err = p.syncEvent(ev)
	} else {
		err = p.syncPod(key)
	}
	switch {
	case err == nil:
		p.queue.Forget(key)
	case errors.Is(err, errOwnerNotCached) && p.queue.NumRequeues(key) < ownerRetries:
		p.queue.AddRateLimited(key)
	default:
		p.log.Warn("pod events given up", "pod", key, "err", err)
		p.queue.Forget(key)
	}
	return ctx.Err() == nil
}

// syncPod compares the cached pod with what was observed last and publishes
// the difference as instance events.
func (p *Platform) syncPod(key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("pod key %q: %w", key, err)
	}
	now := p.now()
	pod, err := p.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		p.mu.Lock()
		prev, ok := p.observations[key]
		delete(p.observations, key)
		if ok {
			delete(p.evicted, prev.uid)
		}
		p.mu.Unlock()
		if ok {
			p.publish(stopped(*prev, name, now))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("pod %s: %w", key, err)
	}
	service, err := p.serviceOf(pod)
	if err != nil {
		return err
	}

	p.mu.Lock()
	prev := p.observations[key]
	p.mu.Unlock()
	var events []model.InstanceEvent
	if prev != nil && prev.uid != pod.UID {
		// Same name, new pod (a StatefulSet's replacement): the old one
		// is gone even if its deletion was never seen.
		events = stopped(*prev, name, now)
		p.mu.Lock()
		delete(p.evicted, prev.uid)
		p.mu.Unlock()
		prev = nil
	}
	cur, more := changes(prev, pod, service, now)
	events = append(events, more...)
	if ev, ok := evictionOf(pod); ok && service != (model.Ref{}) && p.markEvicted(pod.UID) {
		events = append(events, evictedEvent(pod, service, ev.reason, ev.message, now))
	}
	p.mu.Lock()
	p.observations[key] = &cur
	p.mu.Unlock()
	p.publish(events)
	return nil
}

func (p *Platform) publish(events []model.InstanceEvent) {
	for _, ev := range events {
		p.log.Debug("instance event", "kind", string(ev.Kind), "instance", ev.Ref.String(), "status", string(ev.Status), "restarts", ev.Restarts)
		p.subs.Publish(ev)
	}
}

// Subscribe streams instance events from now until ctx ends.
func (p *Platform) Subscribe(ctx context.Context) <-chan model.InstanceEvent {
	return p.subs.Subscribe(ctx)
}

// waitSynced waits until the caches are filled, so that nobody mistakes an
// empty cache for an empty cluster.
func (p *Platform) waitSynced(ctx context.Context) error {
	select {
	case <-p.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("kubernetes: waiting for caches: %w", ctx.Err())
	}
}

// workloads lists every Deployment, StatefulSet, Job and CronJob (through
// its Jobs) in the caches.
func (p *Platform) workloads() ([]workload, error) {
	deps, err := p.deployments.List(labelsEverything)
	if err != nil {
		return nil, fmt.Errorf("list deployments: %w", err)
	}
	sts, err := p.statefulSets.List(labelsEverything)
	if err != nil {
		return nil, fmt.Errorf("list statefulsets: %w", err)
	}
	out := make([]workload, 0, len(deps)+len(sts))
	for _, d := range deps {
		out = append(out, deploymentWorkload(d))
	}
	for _, s := range sts {
		out = append(out, statefulSetWorkload(s))
	}
	jobs, err := p.jobWorkloads()
	if err != nil {
		return nil, err
	}
	out = append(out, jobs...)
	// Deployments, StatefulSets, CronJobs, Jobs, then by namespace: when
	// two workloads claim the same project and name, the first one wins.
	slices.SortStableFunc(out, func(a, b workload) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.name, b.name),
			cmp.Compare(kindRank(a.kind), kindRank(b.kind)), cmp.Compare(a.namespace, b.namespace))
	})
	return slices.CompactFunc(out, func(a, b workload) bool { return a.project == b.project && a.name == b.name }), nil
}

// podsOf returns the pods a workload controls, from the caches.
func (p *Platform) podsOf(w workload) ([]*corev1.Pod, error) {
	owners := []types.UID{w.uid}
	if w.isJob() {
		var err error
		if owners, err = p.jobUIDsOf(w); err != nil {
			return nil, err
		}
	}
	if w.kind == kindDeployment {
		sets, err := p.rsIndex.ByIndex(byController, string(w.uid))
		if err != nil {
			return nil, fmt.Errorf("replicasets of %s/%s: %w", w.namespace, w.name, err)
		}
		owners = owners[:0]
		for _, obj := range sets {
			owners = append(owners, obj.(metav1.Object).GetUID())
		}
	}
	var out []*corev1.Pod
	for _, uid := range owners {
		objs, err := p.podIndex.ByIndex(byController, string(uid))
		if err != nil {
			return nil, fmt.Errorf("pods of %s/%s: %w", w.namespace, w.name, err)
		}
		for _, obj := range objs {
			out = append(out, obj.(*corev1.Pod))
		}
	}
	return out, nil
}

func (p *Platform) serviceFor(w workload) (model.Service, error) {
	pods, err := p.podsOf(w)
	if err != nil {
		return model.Service{}, err
	}
	svc := model.Service{Project: w.project, Name: w.name, Replicas: w.replicas, Instances: make([]model.Instance, 0, len(pods))}
	var surge map[string]bool
	if w.kind == kindDeployment {
		surge = surgePods(pods, w.replicas, p.podRevision)
	}
	for _, pod := range pods {
		in := instanceOf(pod)
		in.Surge = surge[pod.Name]
		in.NodePool = p.nodePoolOf(in.Node)
		svc.Instances = append(svc.Instances, in)
	}
	slices.SortFunc(svc.Instances, func(a, b model.Instance) int { return cmp.Compare(a.Name, b.Name) })
	return svc, nil
}

// Services lists every Deployment and StatefulSet as a service, and every
// Job and CronJob as a job, with its pods, sorted by project and name.
func (p *Platform) Services(ctx context.Context) ([]model.Service, error) {
	if err := p.waitSynced(ctx); err != nil {
		return nil, err
	}
	ws, err := p.workloads()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	out := make([]model.Service, 0, len(ws))
	for _, w := range ws {
		svc, err := p.serviceFor(w)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		out = append(out, svc)
	}
	return out, nil
}

// find returns the workload that is the service project/name.
func (p *Platform) find(ctx context.Context, project, name string) (workload, error) {
	if err := p.waitSynced(ctx); err != nil {
		return workload{}, err
	}
	ws, err := p.workloads()
	if err != nil {
		return workload{}, fmt.Errorf("kubernetes: %w", err)
	}
	for _, w := range ws {
		if w.project == project && w.name == name {
			return w, nil
		}
	}
	return workload{}, fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
}

// Service returns one service, or an error wrapping platform.ErrNotFound.
func (p *Platform) Service(ctx context.Context, project, name string) (model.Service, error) {
	w, err := p.find(ctx, project, name)
	if err != nil {
		return model.Service{}, err
	}
	svc, err := p.serviceFor(w)
	if err != nil {
		return model.Service{}, fmt.Errorf("kubernetes: %w", err)
	}
	return svc, nil
}

// scaleClient is the scale subresource of Deployments and of StatefulSets.
type scaleClient interface {
	GetScale(ctx context.Context, name string, opts metav1.GetOptions) (*autoscalingv1.Scale, error)
	UpdateScale(ctx context.Context, name string, scale *autoscalingv1.Scale, opts metav1.UpdateOptions) (*autoscalingv1.Scale, error)
}

// Scale sets the desired replicas through the workload's scale
// subresource, retrying when another writer changed it in between.
func (p *Platform) Scale(ctx context.Context, project, name string, replicas int) error {
	if replicas < 0 {
		return fmt.Errorf("scale %s/%s: replicas must not be negative, got %d", project, name, replicas)
	}
	w, err := p.find(ctx, project, name)
	if err != nil {
		return err
	}
	if w.isJob() {
		return fmt.Errorf("scale %s/%s: a %s is a job and runs its own number of pods", project, name, w.kind)
	}
	var api scaleClient = p.client.AppsV1().Deployments(w.namespace)
	if w.kind == kindStatefulSet {
		api = p.client.AppsV1().StatefulSets(w.namespace)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := api.GetScale(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec.Replicas = int32(replicas)
		_, err = api.UpdateScale(ctx, w.name, sc, metav1.UpdateOptions{FieldManager: userAgent})
		return err
	})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("scale %s %s/%s: %w", w.kind, w.namespace, w.name, platform.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("scale %s %s/%s: %w", w.kind, w.namespace, w.name, err)
	}
	p.log.Info("scaled", "project", project, "service", name, "kind", w.kind, "namespace", w.namespace, "replicas", replicas)
	return nil
}
