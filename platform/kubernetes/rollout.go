package kubernetes

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/platform"
)

// Annotations the Deployment controller and kubectl use for rollouts.
const (
	// ChangeCauseAnnotation records why a pod template changed; the
	// Deployment controller copies it to the ReplicaSet, and `kubectl
	// rollout history` shows it.
	ChangeCauseAnnotation = "kubernetes.io/change-cause"
	revisionAnnotation    = "deployment.kubernetes.io/revision"
	// podTemplateHashLabel is added by the Deployment controller to its
	// ReplicaSets' templates; a template taken back from one drops it.
	podTemplateHashLabel = "pod-template-hash"
	// progressDeadlineExceeded is the Progressing condition's reason once
	// a Deployment's progressDeadlineSeconds passed without progress.
	progressDeadlineExceeded = "ProgressDeadlineExceeded"
)

// RolloutChange is what a rollout changes in a service's pod template, in
// its default container (see docs/kubernetes.md); zero fields keep what is
// there.
type RolloutChange struct {
	Image string
	// Command replaces the container's command (entrypoint); its args are
	// cleared with it, so that Command is the whole command line.
	Command []string
	// Env sets variables, replacing those of the same name.
	Env map[string]string
	// Cause is recorded as the change cause; empty describes the change.
	Cause string
}

func (c RolloutChange) empty() bool {
	return c.Image == "" && len(c.Command) == 0 && len(c.Env) == 0
}

// cause is the change cause recorded for c.
func (c RolloutChange) cause() string {
	if c.Cause != "" {
		return c.Cause
	}
	var parts []string
	if c.Image != "" {
		parts = append(parts, "image "+c.Image)
	}
	if len(c.Command) > 0 {
		parts = append(parts, "command "+strings.Join(c.Command, " "))
	}
	if len(c.Env) > 0 {
		parts = append(parts, "env "+strings.Join(slices.Sorted(maps.Keys(c.Env)), ","))
	}
	return "opshub: " + strings.Join(parts, ", ")
}

// templateContainer is the index of a pod template's default container: the
// one the kubectl annotation names, else the first.
func templateContainer(t *corev1.PodTemplateSpec) int {
	if name := t.Annotations[defaultContainerAnnotation]; name != "" {
		for i, c := range t.Spec.Containers {
			if c.Name == name {
				return i
			}
		}
	}
	return 0
}

// apply changes a pod template (a copy, never a cached object).
func (c RolloutChange) apply(t *corev1.PodTemplateSpec) error {
	if len(t.Spec.Containers) == 0 {
		return errors.New("the pod template has no containers")
	}
	ct := &t.Spec.Containers[templateContainer(t)]
	if c.Image != "" {
		ct.Image = c.Image
	}
	if len(c.Command) > 0 {
		ct.Command = slices.Clone(c.Command)
		ct.Args = nil
	}
	for _, name := range slices.Sorted(maps.Keys(c.Env)) {
		i := slices.IndexFunc(ct.Env, func(e corev1.EnvVar) bool { return e.Name == name })
		if i < 0 {
			ct.Env = append(ct.Env, corev1.EnvVar{Name: name, Value: c.Env[name]})
			continue
		}
		ct.Env[i] = corev1.EnvVar{Name: name, Value: c.Env[name]}
	}
	return nil
}

// Rollout changes the pod template of a service's Deployment or
// StatefulSet and records the change cause on the workload; the workload's
// controller then rolls it out by its strategy. It returns once the API
// server accepted the change; RolloutStatus follows it.
func (p *Platform) Rollout(ctx context.Context, project, service string, change RolloutChange) error {
	if change.empty() {
		return fmt.Errorf("rollout %s/%s: nothing to change: give an image, a command or env", project, service)
	}
	w, err := p.find(ctx, project, service)
	if err != nil {
		return err
	}
	edit := func(meta *metav1.ObjectMeta, t *corev1.PodTemplateSpec) error {
		if err := change.apply(t); err != nil {
			return err
		}
		setAnnotation(meta, ChangeCauseAnnotation, change.cause())
		return nil
	}
	if _, err := p.updateWorkload(ctx, w, edit); err != nil {
		return fmt.Errorf("rollout %s %s/%s: %w", w.kind, w.namespace, w.name, err)
	}
	p.log.Info("rollout started", "project", project, "service", service, "kind", w.kind, "namespace", w.namespace, "cause", change.cause())
	return nil
}

func setAnnotation(meta *metav1.ObjectMeta, key, value string) {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[key] = value
}

// updateWorkload reads a Deployment or StatefulSet from the API server,
// lets edit change the copy, and writes it back, retrying on a conflict. It
// returns the generation the API server gave the written object.
func (p *Platform) updateWorkload(ctx context.Context, w workload, edit func(*metav1.ObjectMeta, *corev1.PodTemplateSpec) error) (int64, error) {
	opts := metav1.UpdateOptions{FieldManager: userAgent}
	var generation int64
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		switch w.kind {
		case kindDeployment:
			api := p.client.AppsV1().Deployments(w.namespace)
			d, err := api.Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if err := edit(&d.ObjectMeta, &d.Spec.Template); err != nil {
				return err
			}
			got, err := api.Update(ctx, d, opts)
			if err == nil {
				generation = got.Generation
			}
			return err
		case kindStatefulSet:
			api := p.client.AppsV1().StatefulSets(w.namespace)
			s, err := api.Get(ctx, w.name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if err := edit(&s.ObjectMeta, &s.Spec.Template); err != nil {
				return err
			}
			got, err := api.Update(ctx, s, opts)
			if err == nil {
				generation = got.Generation
			}
			return err
		}
		return fmt.Errorf("a %s is a job and is not rolled out", w.kind)
	})
	if apierrors.IsNotFound(err) {
		return 0, platform.ErrNotFound
	}
	return generation, err
}

// RolloutState is where a rollout stands, in `kubectl rollout status`
// terms.
type RolloutState struct {
	// Done is set once the rollout completed.
	Done bool `json:"done"`
	// Failed is set when it cannot complete: the Deployment's progress
	// deadline passed. Kubernetes does not roll back by itself.
	Failed bool `json:"failed,omitempty"`
	// Message says what it waits for, in kubectl's words.
	Message string `json:"message"`
	// Revision is the Deployment's current revision; 0 for a StatefulSet.
	Revision int64 `json:"revision,omitempty"`
}

// RolloutStatus reads the workload from the API server (not the cache,
// which may not have seen a rollout just started) and judges it by the
// rules of `kubectl rollout status`.
func (p *Platform) RolloutStatus(ctx context.Context, project, service string) (RolloutState, error) {
	w, err := p.find(ctx, project, service)
	if err != nil {
		return RolloutState{}, err
	}
	var st RolloutState
	switch w.kind {
	case kindDeployment:
		d, err := p.client.AppsV1().Deployments(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return RolloutState{}, rolloutErr(w, err)
		}
		st = deploymentRollout(d)
	case kindStatefulSet:
		s, err := p.client.AppsV1().StatefulSets(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return RolloutState{}, rolloutErr(w, err)
		}
		st, err = statefulSetRollout(s)
		if err != nil {
			return RolloutState{}, rolloutErr(w, err)
		}
	default:
		return RolloutState{}, fmt.Errorf("rollout status %s/%s: a %s is a job and is not rolled out", project, service, w.kind)
	}
	return st, nil
}

func rolloutErr(w workload, err error) error {
	if apierrors.IsNotFound(err) {
		err = platform.ErrNotFound
	}
	return fmt.Errorf("rollout status %s %s/%s: %w", w.kind, w.namespace, w.name, err)
}

// deploymentRollout applies kubectl's rules in their order: the controller
// has observed the spec; the progress deadline has not passed; every
// desired replica is updated; no old replica remains; every updated
// replica is available.
func deploymentRollout(d *appsv1.Deployment) RolloutState {
	st := RolloutState{Revision: revisionOf(d.Annotations)}
	if d.Generation > d.Status.ObservedGeneration {
		st.Message = "Waiting for deployment spec update to be observed..."
		return st
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == progressDeadlineExceeded {
			st.Failed = true
			st.Message = fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name)
			return st
		}
	}
	s := d.Status
	switch desired := int32(replicasOf(d.Spec.Replicas)); {
	case s.UpdatedReplicas < desired:
		st.Message = fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, s.UpdatedReplicas, desired)
	case s.Replicas > s.UpdatedReplicas:
		st.Message = fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < s.UpdatedReplicas:
		st.Message = fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, s.AvailableReplicas, s.UpdatedReplicas)
	default:
		st.Done = true
		st.Message = fmt.Sprintf("deployment %q successfully rolled out", d.Name)
	}
	return st
}

// statefulSetRollout applies kubectl's rules for a StatefulSet: only the
// RollingUpdate strategy has a status; the spec must be observed; every
// replica ready; a partition counts only the pods above it; otherwise the
// update revision must have become the current one.
func statefulSetRollout(s *appsv1.StatefulSet) (RolloutState, error) {
	if s.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return RolloutState{}, fmt.Errorf("rollout status is only available for the %s strategy", appsv1.RollingUpdateStatefulSetStrategyType)
	}
	var st RolloutState
	if s.Status.ObservedGeneration == 0 || s.Generation > s.Status.ObservedGeneration {
		st.Message = "Waiting for statefulset spec update to be observed..."
		return st, nil
	}
	desired := int32(replicasOf(s.Spec.Replicas))
	if s.Status.ReadyReplicas < desired {
		st.Message = fmt.Sprintf("Waiting for %d pods to be ready...", desired-s.Status.ReadyReplicas)
		return st, nil
	}
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		want := desired - *ru.Partition
		if s.Status.UpdatedReplicas < want {
			st.Message = fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...", s.Status.UpdatedReplicas, want)
			return st, nil
		}
		st.Done = true
		st.Message = fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", s.Status.UpdatedReplicas)
		return st, nil
	}
	if s.Status.UpdateRevision != s.Status.CurrentRevision {
		st.Message = fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...", s.Status.UpdatedReplicas, s.Status.UpdateRevision)
		return st, nil
	}
	st.Done = true
	st.Message = fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...", s.Status.CurrentReplicas, s.Status.CurrentRevision)
	return st, nil
}

func revisionOf(annotations map[string]string) int64 {
	n, err := strconv.ParseInt(annotations[revisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// revisionEntry is one earlier pod template of a workload.
type revisionEntry struct {
	revision int64
	uid      types.UID
}

// pickRevision chooses the revision to go back to: the one asked for, or
// for 0 the highest below the current one.
func pickRevision(revs []revisionEntry, current, want int64) (revisionEntry, error) {
	slices.SortFunc(revs, func(a, b revisionEntry) int { return cmp.Compare(b.revision, a.revision) })
	for _, r := range revs {
		if want == 0 && r.revision < current {
			return r, nil
		}
		if want != 0 && r.revision == want {
			return r, nil
		}
	}
	if want == 0 {
		return revisionEntry{}, errors.New("no previous revision to go back to")
	}
	return revisionEntry{}, fmt.Errorf("revision %d not found", want)
}

// Undo rolls a service back to an earlier pod template: revision 0 is the
// previous one, as `kubectl rollout undo`. For a Deployment the template
// comes from the ReplicaSet of that revision (in the cache) and the
// rollback is a new revision; for a StatefulSet it comes from the
// ControllerRevision of that revision. It returns the revision it went
// back to.
func (p *Platform) Undo(ctx context.Context, project, service string, revision int64) (int64, error) {
	if revision < 0 {
		return 0, fmt.Errorf("undo %s/%s: revision must not be negative, got %d", project, service, revision)
	}
	w, err := p.find(ctx, project, service)
	if err != nil {
		return 0, err
	}
	var to int64
	switch w.kind {
	case kindDeployment:
		to, err = p.undoDeployment(ctx, w, revision)
	case kindStatefulSet:
		to, err = p.undoStatefulSet(ctx, w, revision)
	default:
		err = fmt.Errorf("a %s is a job and is not rolled out", w.kind)
	}
	if err != nil {
		return 0, fmt.Errorf("undo %s %s/%s: %w", w.kind, w.namespace, w.name, err)
	}
	p.log.Info("rolled back", "project", project, "service", service, "kind", w.kind, "namespace", w.namespace, "revision", to)
	return to, nil
}

func (p *Platform) undoDeployment(ctx context.Context, w workload, revision int64) (int64, error) {
	objs, err := p.rsIndex.ByIndex(byController, string(w.uid))
	if err != nil {
		return 0, fmt.Errorf("replicasets: %w", err)
	}
	sets := map[types.UID]*appsv1.ReplicaSet{}
	var revs []revisionEntry
	for _, obj := range objs {
		rs := obj.(*appsv1.ReplicaSet)
		if n := revisionOf(rs.Annotations); n > 0 {
			sets[rs.UID] = rs
			revs = append(revs, revisionEntry{revision: n, uid: rs.UID})
		}
	}
	d, err := p.deployments.Deployments(w.namespace).Get(w.name)
	if err != nil {
		return 0, err
	}
	pick, err := pickRevision(revs, revisionOf(d.Annotations), revision)
	if err != nil {
		return 0, err
	}
	rs := sets[pick.uid]
	template := rs.Spec.Template.DeepCopy()
	delete(template.Labels, podTemplateHashLabel)
	cause := rs.Annotations[ChangeCauseAnnotation]
	if cause == "" {
		cause = fmt.Sprintf("opshub: rollback to revision %d", pick.revision)
	}
	_, err = p.updateWorkload(ctx, w, func(meta *metav1.ObjectMeta, t *corev1.PodTemplateSpec) error {
		*t = *template.DeepCopy()
		setAnnotation(meta, ChangeCauseAnnotation, cause)
		return nil
	})
	return pick.revision, err
}

func (p *Platform) undoStatefulSet(ctx context.Context, w workload, revision int64) (int64, error) {
	s, err := p.statefulSets.StatefulSets(w.namespace).Get(w.name)
	if err != nil {
		return 0, err
	}
	crs, err := p.controllerRevisions(ctx, s)
	if err != nil {
		return 0, err
	}
	byUID := map[types.UID]*appsv1.ControllerRevision{}
	var revs []revisionEntry
	var current int64
	for _, cr := range crs {
		byUID[cr.UID] = cr
		revs = append(revs, revisionEntry{revision: cr.Revision, uid: cr.UID})
		if cr.Name == s.Status.UpdateRevision {
			current = cr.Revision
		}
	}
	if current == 0 {
		for _, r := range revs {
			current = max(current, r.revision)
		}
	}
	pick, err := pickRevision(revs, current, revision)
	if err != nil {
		return 0, err
	}
	// The revision's data is a strategic merge patch that puts its pod
	// template back, the way the StatefulSet controller recorded it.
	_, err = p.client.AppsV1().StatefulSets(w.namespace).Patch(ctx, w.name, types.StrategicMergePatchType,
		byUID[pick.uid].Data.Raw, metav1.PatchOptions{FieldManager: userAgent})
	if apierrors.IsNotFound(err) {
		err = platform.ErrNotFound
	}
	return pick.revision, err
}

// controllerRevisions lists the ControllerRevisions a StatefulSet controls
// (from the API server: they are not cached).
func (p *Platform) controllerRevisions(ctx context.Context, s *appsv1.StatefulSet) ([]*appsv1.ControllerRevision, error) {
	selector, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector: %w", err)
	}
	list, err := p.client.AppsV1().ControllerRevisions(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, fmt.Errorf("controllerrevisions: %w", err)
	}
	var out []*appsv1.ControllerRevision
	for i := range list.Items {
		cr := &list.Items[i]
		if ref := metav1.GetControllerOf(cr); ref != nil && ref.UID == s.UID {
			out = append(out, cr)
		}
	}
	return out, nil
}

// templateOf is the pod template a StatefulSet's ControllerRevision
// records: the controller stores it as the patch {"spec": {"template":
// …, "$patch": "replace"}}.
func templateOf(cr *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var data struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(cr.Data.Raw, &data); err != nil {
		return nil, fmt.Errorf("controllerrevision %s: %w", cr.Name, err)
	}
	return &data.Spec.Template, nil
}
