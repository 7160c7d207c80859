package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/opshub/opshub/platform"
)

// Labels and annotations of the VolumeSnapshots a flow's backup step makes.
// The labels hold the names made label values; the annotations hold them
// as they are.
const (
	FlowLabel    = "opshub.dev/flow"
	FlowRunLabel = "opshub.dev/flow-run"
	// FlowStepAnnotation names the step that took the snapshot.
	FlowStepAnnotation = "opshub.dev/flow-step"
)

// SnapshotAPI is the group and version of CSI volume snapshots.
var SnapshotAPI = snapv1.SchemeGroupVersion.String()

// snapshotPoll is how often a snapshot's status is read.
const snapshotPoll = 250 * time.Millisecond

// NewSnapshotClient connects to the cluster's snapshot.storage.k8s.io API
// as NewClient does to the core API.
func NewSnapshotClient(kubeconfig string) (snapclient.Interface, error) {
	cfg, err := restConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = userAgent
	c, err := snapclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes snapshot client: %w", err)
	}
	return c, nil
}

// HasSnapshotAPI tells whether the cluster serves VolumeSnapshots
// (snapshot.storage.k8s.io/v1, installed with the external-snapshotter's
// CRDs).
func HasSnapshotAPI(client kubernetes.Interface) (bool, error) {
	res, err := client.Discovery().ServerResourcesForGroupVersion(SnapshotAPI)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("discover %s: %w", SnapshotAPI, err)
	}
	return slices.ContainsFunc(res.APIResources, func(r metav1.APIResource) bool { return r.Name == "volumesnapshots" }), nil
}

// Snapshotter takes backups as CSI VolumeSnapshots of the claims behind a
// workload's volume.
type Snapshotter struct {
	p      *Platform
	client snapclient.Interface
}

// NewSnapshotter snapshots the claims of p's workloads through client.
func NewSnapshotter(p *Platform, client snapclient.Interface) *Snapshotter {
	return &Snapshotter{p: p, client: client}
}

// SnapshotRequest is one backup step's attempt.
type SnapshotRequest struct {
	// Project and Service name the workload; Volume names a volume of its
	// pod template that is a PersistentVolumeClaim (or a generic
	// ephemeral volume), or one of a StatefulSet's volumeClaimTemplates.
	Project, Service, Volume string
	// Class is the VolumeSnapshotClass; "" leaves it to the cluster's
	// default class.
	Class string
	// Flow, Run and Step label and annotate the snapshots; Name is the
	// prefix of their names (one per claim: <Name>-<claim>).
	Flow, Run, Step, Name string
}

// Snapshot creates a VolumeSnapshot of each claim behind the request's
// volume and waits until every one is ready to use. It fails with a
// snapshot's status.error as soon as one reports it, and when ctx ends
// (the step's timeout) with what was still pending; either way the
// snapshots it created are deleted. It returns them as namespace/name.
func (s *Snapshotter) Snapshot(ctx context.Context, req SnapshotRequest, out io.Writer) ([]string, error) {
	ns, claims, err := s.claimsOf(ctx, req.Project, req.Service, req.Volume)
	if err != nil {
		return nil, err
	}
	if req.Class != "" {
		if _, err := s.client.SnapshotV1().VolumeSnapshotClasses().Get(ctx, req.Class, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("VolumeSnapshotClass %q does not exist", req.Class)
			}
			return nil, fmt.Errorf("read VolumeSnapshotClass %q: %w", req.Class, err)
		}
	}
	snaps := s.client.SnapshotV1().VolumeSnapshots(ns)
	var made []string
	ok := false
	defer func() {
		if !ok {
			s.remove(ns, made, out)
		}
	}()
	for _, claim := range claims {
		vs := &snapv1.VolumeSnapshot{
			ObjectMeta: metav1.ObjectMeta{
				Name: dnsLabel(req.Name + "-" + claim), Namespace: ns,
				Labels: map[string]string{FlowLabel: labelValue(req.Flow), FlowRunLabel: labelValue(req.Run),
					"app.kubernetes.io/managed-by": "opshub"},
				Annotations: map[string]string{FlowLabel: req.Flow, FlowRunLabel: req.Run, FlowStepAnnotation: req.Step},
			},
			Spec: snapv1.VolumeSnapshotSpec{Source: snapv1.VolumeSnapshotSource{PersistentVolumeClaimName: &claim}},
		}
		if req.Class != "" {
			vs.Spec.VolumeSnapshotClassName = &req.Class
		}
		created, err := snaps.Create(ctx, vs, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create VolumeSnapshot %s/%s of claim %s: %w", ns, vs.Name, claim, err)
		}
		made = append(made, created.Name)
		class := req.Class
		if class == "" {
			class = "the cluster's default"
		}
		fmt.Fprintf(out, "[opshub] VolumeSnapshot %s/%s of claim %s created (class %s)\n", ns, created.Name, claim, class)
		s.p.log.Info("volume snapshot created", "namespace", ns, "snapshot", created.Name, "claim", claim, "run", req.Run)
	}
	if err := s.waitReady(ctx, ns, made, out); err != nil {
		return nil, err
	}
	ok = true
	names := make([]string, len(made))
	for i, n := range made {
		names[i] = ns + "/" + n
	}
	return names, nil
}

// waitReady polls the snapshots until each is ready to use, one reports
// an error, or ctx ends.
func (s *Snapshotter) waitReady(ctx context.Context, ns string, names []string, out io.Writer) error {
	snaps := s.client.SnapshotV1().VolumeSnapshots(ns)
	tick := time.NewTicker(snapshotPoll)
	defer tick.Stop()
	ready := map[string]bool{}
	bound := map[string]bool{}
	for {
		for _, n := range names {
			if ready[n] {
				continue
			}
			vs, err := snaps.Get(ctx, n, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return fmt.Errorf("VolumeSnapshot %s/%s was deleted before it was ready", ns, n)
			case err != nil:
				if ctx.Err() == nil {
					fmt.Fprintf(out, "[opshub] read VolumeSnapshot %s/%s: %v\n", ns, n, err)
				}
				continue
			}
			st := vs.Status
			if st == nil {
				continue
			}
			if st.Error != nil && st.Error.Message != nil {
				return fmt.Errorf("VolumeSnapshot %s/%s: %s", ns, n, *st.Error.Message)
			}
			if c := st.BoundVolumeSnapshotContentName; c != nil && !bound[n] {
				bound[n] = true
				fmt.Fprintf(out, "[opshub] VolumeSnapshot %s/%s bound to VolumeSnapshotContent %s\n", ns, n, *c)
			}
			if st.ReadyToUse != nil && *st.ReadyToUse {
				ready[n] = true
				size := ""
				if st.RestoreSize != nil {
					size = ", restore size " + st.RestoreSize.String()
				}
				fmt.Fprintf(out, "[opshub] VolumeSnapshot %s/%s is ready to use%s\n", ns, n, size)
			}
		}
		if len(ready) == len(names) {
			return nil
		}
		select {
		case <-ctx.Done():
			var pending []string
			for _, n := range names {
				if !ready[n] {
					what := n + " (not bound to a VolumeSnapshotContent)"
					if bound[n] {
						what = n + " (bound, not ready to use)"
					}
					pending = append(pending, what)
				}
			}
			return fmt.Errorf("VolumeSnapshot(s) in %s not ready: %s: %w", ns, strings.Join(pending, ", "), context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// remove deletes snapshots of a failed attempt.
func (s *Snapshotter) remove(ns string, names []string, out io.Writer) {
	if len(names) == 0 {
		return
	}
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = ns + "/" + n
	}
	if err := s.Delete(context.Background(), refs); err != nil {
		fmt.Fprintf(out, "[opshub] %v\n", err)
		return
	}
	fmt.Fprintf(out, "[opshub] deleted VolumeSnapshot(s) %s of the failed attempt\n", strings.Join(refs, ", "))
}

// Delete deletes snapshots named namespace/name; those already gone are
// no error.
func (s *Snapshotter) Delete(ctx context.Context, refs []string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var errs []error
	for _, ref := range refs {
		ns, name, ok := strings.Cut(ref, "/")
		if !ok {
			errs = append(errs, fmt.Errorf("VolumeSnapshot %q: not namespace/name", ref))
			continue
		}
		err := s.client.SnapshotV1().VolumeSnapshots(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete VolumeSnapshot %s: %w", ref, err))
		}
	}
	return errors.Join(errs...)
}

// claimsOf returns the namespace of project/service and the claims behind
// its volume: the claim a volume of the pod template names, the claims of
// a StatefulSet's volumeClaimTemplate (one per replica), or the claims of
// a generic ephemeral volume (one per pod).
func (s *Snapshotter) claimsOf(ctx context.Context, project, service, volume string) (string, []string, error) {
	w, err := s.p.find(ctx, project, service)
	if err != nil {
		return "", nil, err
	}
	var spec *corev1.PodSpec
	switch w.kind {
	case kindDeployment:
		d, err := s.p.deployments.Deployments(w.namespace).Get(w.name)
		if err != nil {
			return "", nil, fmt.Errorf("kubernetes: %w", err)
		}
		spec = &d.Spec.Template.Spec
	case kindStatefulSet:
		st, err := s.p.statefulSets.StatefulSets(w.namespace).Get(w.name)
		if err != nil {
			return "", nil, fmt.Errorf("kubernetes: %w", err)
		}
		for _, t := range st.Spec.VolumeClaimTemplates {
			if t.Name != volume {
				continue
			}
			first := 0
			if st.Spec.Ordinals != nil {
				first = int(st.Spec.Ordinals.Start)
			}
			var claims []string
			for i := range w.replicas {
				claims = append(claims, fmt.Sprintf("%s-%s-%d", volume, st.Name, first+i))
			}
			if len(claims) == 0 {
				return "", nil, fmt.Errorf("StatefulSet %s/%s has no replicas, so no claims of volumeClaimTemplate %q", w.namespace, w.name, volume)
			}
			return w.namespace, claims, nil
		}
		spec = &st.Spec.Template.Spec
	default:
		return "", nil, fmt.Errorf("%s/%s is a %s: backups are of a Deployment's or StatefulSet's volumes: %w", project, service, w.kind, platform.ErrNotFound)
	}
	var names []string
	for _, v := range spec.Volumes {
		names = append(names, v.Name)
		if v.Name != volume {
			continue
		}
		switch {
		case v.PersistentVolumeClaim != nil:
			return w.namespace, []string{v.PersistentVolumeClaim.ClaimName}, nil
		case v.Ephemeral != nil:
			pods, err := s.p.podsOf(w)
			if err != nil {
				return "", nil, fmt.Errorf("kubernetes: %w", err)
			}
			var claims []string
			for _, pod := range pods {
				claims = append(claims, pod.Name+"-"+volume)
			}
			slices.Sort(claims)
			if len(claims) == 0 {
				return "", nil, fmt.Errorf("%s/%s has no pods, so no claims of ephemeral volume %q", w.namespace, w.name, volume)
			}
			return w.namespace, claims, nil
		}
		return "", nil, fmt.Errorf("volume %q of %s/%s is not a PersistentVolumeClaim: only claims can be snapshotted", volume, w.namespace, w.name)
	}
	return "", nil, fmt.Errorf("%s/%s has no volume %q (its volumes: %s): %w", w.namespace, w.name, volume, strings.Join(names, ", "), platform.ErrNotFound)
}

// labelValue makes s a label value: at most 63 characters of letters,
// digits, '-', '_' and '.', starting and ending with a letter or digit.
func labelValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	out := string(b)
	if len(out) > 63 {
		out = out[len(out)-63:]
	}
	return strings.Trim(out, "-_.")
}
