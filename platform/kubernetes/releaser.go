package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/cache"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// Annotations of opshub's releases.
const (
	// ReleasesAnnotation on a Deployment or StatefulSet set to
	// ReleasesDisabled opts it out of opshub's releases: a GitOps tool
	// owns its pod template, so deploy and rollback are refused and a
	// failed rollout is not rolled back; its history is still recorded.
	ReleasesAnnotation = "opshub.dev/releases"
	ReleasesDisabled   = "disabled"
	// VersionAnnotation on a pod template holds a release's free-text
	// version; as part of the template, a new version is a new rollout.
	VersionAnnotation = "opshub.dev/version"
)

var _ platform.ExternalReleaser = (*Platform)(nil)

// specOf is a pod template as a release's run spec: the image of every
// container (Image is the default container's), and of the default
// container its command line (command then args), working directory and
// the variables with a literal value (those from secrets or fields are
// not part of a release) and the groups it takes; the version comes from
// VersionAnnotation and the groups' checksum from GroupChecksumAnnotation.
func specOf(t *corev1.PodTemplateSpec) model.RunSpec {
	spec := model.RunSpec{Env: map[string]string{}, Version: t.Annotations[VersionAnnotation], GroupsChecksum: t.Annotations[GroupChecksumAnnotation]}
	if len(t.Spec.Containers) == 0 {
		return spec
	}
	spec.Images = make(map[string]string, len(t.Spec.Containers))
	for _, c := range t.Spec.Containers {
		spec.Images[c.Name] = c.Image
	}
	def := &t.Spec.Containers[templateContainer(t)]
	spec.Image = def.Image
	spec.Command = commandLine(def)
	spec.WorkingDir = def.WorkingDir
	spec.Groups = groupsOf(def)
	for _, e := range def.Env {
		if e.ValueFrom == nil {
			spec.Env[e.Name] = e.Value
		}
	}
	return spec
}

// commandLine is a container's command followed by its args; nil when the
// image's entrypoint runs unchanged.
func commandLine(c *corev1.Container) []string {
	if len(c.Command) == 0 && len(c.Args) == 0 {
		return nil
	}
	return append(slices.Clone(c.Command), c.Args...)
}

// applySpec changes a pod template (a copy) so that specOf gives spec. A
// container named in spec.Images gets that image; the default container
// gets spec.Image unless spec.Images changes it. Variables from secrets or
// fields are kept unless spec sets a value of the same name.
func applySpec(t *corev1.PodTemplateSpec, spec model.RunSpec) error {
	if len(t.Spec.Containers) == 0 {
		return &platform.SpecError{Field: "container", Msg: "the pod template has no containers"}
	}
	if err := checkSpec(t, spec); err != nil {
		return err
	}
	di := templateContainer(t)
	def := &t.Spec.Containers[di]
	defImage := def.Image
	for name, image := range spec.Images {
		i := slices.IndexFunc(t.Spec.Containers, func(c corev1.Container) bool { return c.Name == name })
		t.Spec.Containers[i].Image = image
	}
	if img := spec.Images[def.Name]; (img == "" || img == defImage) && spec.Image != "" {
		def.Image = spec.Image
	}
	if !slices.Equal(spec.Command, commandLine(def)) {
		def.Command, def.Args = slices.Clone(spec.Command), nil
	}
	def.WorkingDir = spec.WorkingDir
	env := def.Env[:0:0]
	for _, e := range def.Env {
		v, set := spec.Env[e.Name]
		switch {
		case set:
			env = append(env, corev1.EnvVar{Name: e.Name, Value: v})
		case e.ValueFrom != nil:
			env = append(env, e)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Env)) {
		if !slices.ContainsFunc(env, func(e corev1.EnvVar) bool { return e.Name == name }) {
			env = append(env, corev1.EnvVar{Name: name, Value: spec.Env[name]})
		}
	}
	def.Env = env
	setGroups(def, spec.Groups)
	setTemplateAnnotation(t, VersionAnnotation, spec.Version)
	setTemplateAnnotation(t, GroupChecksumAnnotation, spec.GroupsChecksum)
	return nil
}

// setTemplateAnnotation sets an annotation of a pod template, or removes it
// when value is empty.
func setTemplateAnnotation(t *corev1.PodTemplateSpec, name, value string) {
	if value == "" {
		delete(t.Annotations, name)
		return
	}
	if t.Annotations == nil {
		t.Annotations = map[string]string{}
	}
	t.Annotations[name] = value
}

// checkSpec refuses a spec that cannot apply to template t.
func checkSpec(t *corev1.PodTemplateSpec, spec model.RunSpec) error {
	names := make([]string, 0, len(t.Spec.Containers))
	for _, c := range t.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Images)) {
		if !slices.Contains(names, name) {
			return &platform.SpecError{Field: "container", Msg: fmt.Sprintf("the pod template has no container %q (it has %s)", name, strings.Join(names, ", "))}
		}
		if strings.TrimSpace(spec.Images[name]) == "" {
			return &platform.SpecError{Field: "image", Msg: fmt.Sprintf("the image of container %q must not be empty", name)}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(spec.Env)) {
		if errs := validation.IsEnvVarName(name); len(errs) > 0 {
			return &platform.SpecError{Field: "env", Msg: fmt.Sprintf("%q is not a valid variable name: %s", name, strings.Join(errs, "; "))}
		}
	}
	return nil
}

// describeChange is the change cause opshub records for a new template.
func describeChange(from, to model.RunSpec) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(to.Images)) {
		if from.Images[name] != to.Images[name] {
			parts = append(parts, fmt.Sprintf("image %s=%s", name, to.Images[name]))
		}
	}
	if len(to.Images) == 0 && from.Image != to.Image {
		parts = append(parts, "image "+to.Image)
	}
	if !slices.Equal(from.Command, to.Command) {
		parts = append(parts, "command "+strings.Join(to.Command, " "))
	}
	var env []string
	for _, k := range slices.Sorted(maps.Keys(to.Env)) {
		if v, ok := from.Env[k]; !ok || v != to.Env[k] {
			env = append(env, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(from.Env)) {
		if _, ok := to.Env[k]; !ok {
			env = append(env, k+"-")
		}
	}
	if len(env) > 0 {
		parts = append(parts, "env "+strings.Join(env, ","))
	}
	if from.WorkingDir != to.WorkingDir {
		parts = append(parts, "workingDir "+to.WorkingDir)
	}
	if from.Version != to.Version {
		parts = append(parts, "version "+to.Version)
	}
	if !slices.Equal(from.Groups, to.Groups) {
		names := make([]string, 0, len(to.Groups))
		for _, g := range to.Groups {
			names = append(names, g.Name)
		}
		parts = append(parts, "groups "+strings.Join(names, ","))
	} else if from.GroupsChecksum != to.GroupsChecksum {
		parts = append(parts, "groups checksum "+to.GroupsChecksum)
	}
	if len(parts) == 0 {
		return "opshub: release"
	}
	return "opshub: " + strings.Join(parts, ", ")
}

// releasable finds a service that can be released: a Deployment or a
// StatefulSet.
func (p *Platform) releasable(ctx context.Context, project, service string) (workload, error) {
	w, err := p.find(ctx, project, service)
	if err != nil {
		return workload{}, err
	}
	if w.kind != kindDeployment && w.kind != kindStatefulSet {
		return workload{}, &platform.SpecError{Field: "service", Msg: fmt.Sprintf("%s/%s is a %s: a job runs to completion and is not released", project, service, w.kind)}
	}
	return w, nil
}

// unmanaged says why a workload opted out of opshub's releases; "" when it
// did not.
func unmanaged(w workload, meta *metav1.ObjectMeta) string {
	if meta.Annotations[ReleasesAnnotation] != ReleasesDisabled {
		return ""
	}
	return fmt.Sprintf("%s %s/%s has the annotation %s: %s: its pod template is managed outside opshub (a GitOps tool); change it there",
		w.kind, w.namespace, w.name, ReleasesAnnotation, ReleasesDisabled)
}

// workloadObject reads a Deployment or StatefulSet from the API server (the
// cache may not have seen a change just made) and returns its metadata and
// pod template.
func (p *Platform) workloadObject(ctx context.Context, w workload) (*metav1.ObjectMeta, *corev1.PodTemplateSpec, error) {
	var (
		meta *metav1.ObjectMeta
		tmpl *corev1.PodTemplateSpec
		err  error
	)
	switch w.kind {
	case kindDeployment:
		var d *appsv1.Deployment
		if d, err = p.client.AppsV1().Deployments(w.namespace).Get(ctx, w.name, metav1.GetOptions{}); err == nil {
			meta, tmpl = &d.ObjectMeta, &d.Spec.Template
		}
	default:
		var s *appsv1.StatefulSet
		if s, err = p.client.AppsV1().StatefulSets(w.namespace).Get(ctx, w.name, metav1.GetOptions{}); err == nil {
			meta, tmpl = &s.ObjectMeta, &s.Spec.Template
		}
	}
	if apierrors.IsNotFound(err) {
		err = fmt.Errorf("service %s/%s: %w", w.project, w.name, platform.ErrNotFound)
	}
	return meta, tmpl, err
}

// Template returns the run spec of a service's pod template, read from the
// API server.
func (p *Platform) Template(ctx context.Context, project, name string) (model.RunSpec, error) {
	w, err := p.releasable(ctx, project, name)
	if err != nil {
		return model.RunSpec{}, err
	}
	_, tmpl, err := p.workloadObject(ctx, w)
	if err != nil {
		return model.RunSpec{}, err
	}
	return specOf(tmpl), nil
}

// CheckTemplate refuses a spec for a workload that opted out of releases
// (an *platform.UnmanagedError), for a container the pod template does not
// have, with an empty image or an invalid variable name.
func (p *Platform) CheckTemplate(ctx context.Context, project, name string, spec model.RunSpec) error {
	w, err := p.releasable(ctx, project, name)
	if err != nil {
		return err
	}
	meta, tmpl, err := p.workloadObject(ctx, w)
	if err != nil {
		return err
	}
	if why := unmanaged(w, meta); why != "" {
		return &platform.UnmanagedError{Msg: why}
	}
	return checkSpec(tmpl, spec)
}

// SetTemplate writes spec into the service's pod template; the workload's
// controller rolls it out by the workload's own strategy. When a
// Deployment's ReplicaSet already has a template with that spec (a
// rollback), its whole template is restored, as `kubectl rollout undo`
// does, so that what opshub does not track (resources, probes) goes back
// too; otherwise spec is applied to the current template. The change
// cause is recorded on the workload.
func (p *Platform) SetTemplate(ctx context.Context, project, name string, spec model.RunSpec) error {
	w, err := p.releasable(ctx, project, name)
	if err != nil {
		return err
	}
	var previous *corev1.PodTemplateSpec
	if w.kind == kindDeployment {
		previous = p.templateOfRevision(w, spec)
	} else if s, err := p.statefulSets.StatefulSets(w.namespace).Get(w.name); err == nil {
		previous = p.templateOfControllerRevision(ctx, s, spec)
	}
	edit := func(meta *metav1.ObjectMeta, t *corev1.PodTemplateSpec) error {
		if why := unmanaged(w, meta); why != "" {
			return &platform.UnmanagedError{Msg: why}
		}
		from := specOf(t)
		if previous != nil {
			*t = *previous.DeepCopy()
		} else if err := applySpec(t, spec); err != nil {
			return err
		}
		setAnnotation(meta, ChangeCauseAnnotation, describeChange(from, specOf(t)))
		return nil
	}
	written, err := p.updateWorkload(ctx, w, edit)
	if errors.Is(err, platform.ErrNotFound) {
		return fmt.Errorf("service %s/%s: %w", project, name, err)
	}
	if err != nil {
		return fmt.Errorf("release %s %s/%s: %w", w.kind, w.namespace, w.name, err)
	}
	p.mu.Lock()
	p.written[w.uid] = written
	p.mu.Unlock()
	p.log.Info("pod template set", "project", project, "service", name, "kind", w.kind, "namespace", w.namespace, "restored", previous != nil, "generation", written)
	return nil
}

// templateOfRevision is the template of the newest ReplicaSet of a
// Deployment whose spec is spec, without the controller's hash label; nil
// when there is none.
func (p *Platform) templateOfRevision(w workload, spec model.RunSpec) *corev1.PodTemplateSpec {
	objs, err := p.rsIndex.ByIndex(byController, string(w.uid))
	if err != nil {
		return nil
	}
	var best *appsv1.ReplicaSet
	for _, obj := range objs {
		rs := obj.(*appsv1.ReplicaSet)
		if specOf(&rs.Spec.Template).Equal(spec) && (best == nil || revisionOf(rs.Annotations) > revisionOf(best.Annotations)) {
			best = rs
		}
	}
	if best == nil {
		return nil
	}
	t := best.Spec.Template.DeepCopy()
	delete(t.Labels, podTemplateHashLabel)
	return t
}

// templateOfControllerRevision is the template of the newest
// ControllerRevision of a StatefulSet whose spec is spec; nil when there is
// none.
func (p *Platform) templateOfControllerRevision(ctx context.Context, s *appsv1.StatefulSet, spec model.RunSpec) *corev1.PodTemplateSpec {
	crs, err := p.controllerRevisions(ctx, s)
	if err != nil {
		p.log.Warn("read controllerrevisions", "namespace", s.Namespace, "statefulset", s.Name, "error", err)
		return nil
	}
	var best *corev1.PodTemplateSpec
	var bestRev int64
	for _, cr := range crs {
		t, err := templateOf(cr)
		if err != nil || !specOf(t).Equal(spec) || (best != nil && cr.Revision < bestRev) {
			continue
		}
		best, bestRev = t, cr.Revision
	}
	return best
}

// RolloutProgress reads the workload from the API server and its pods from
// the caches: desired replicas, pods of the current template (updated, of
// them ready and available), pods of older templates, the pod the rollout
// waits on and why, and whether the rollout is done by `kubectl rollout
// status` rules.
func (p *Platform) RolloutProgress(ctx context.Context, project, name string) (model.RolloutStatus, error) {
	w, err := p.releasable(ctx, project, name)
	if err != nil {
		return model.RolloutStatus{}, err
	}
	switch w.kind {
	case kindDeployment:
		d, err := p.client.AppsV1().Deployments(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return model.RolloutStatus{}, rolloutErr(w, err)
		}
		return p.deploymentProgress(w, d)
	default:
		s, err := p.client.AppsV1().StatefulSets(w.namespace).Get(ctx, w.name, metav1.GetOptions{})
		if err != nil {
			return model.RolloutStatus{}, rolloutErr(w, err)
		}
		return p.statefulSetProgress(w, s)
	}
}

func (p *Platform) deploymentProgress(w workload, d *appsv1.Deployment) (model.RolloutStatus, error) {
	kst := deploymentRollout(d)
	st := model.RolloutStatus{Desired: replicasOf(d.Spec.Replicas), Revision: kst.Revision, Done: kst.Done}
	if kst.Failed {
		st.Failed = kst.Message
	}
	pods, err := p.podsOf(w)
	if err != nil {
		return st, err
	}
	observed := d.Status.ObservedGeneration >= d.Generation
	current := func(pod *corev1.Pod) bool { return observed && p.podRevision(pod) == kst.Revision && kst.Revision > 0 }
	p.countPods(&st, pods, current, d.Spec.MinReadySeconds)
	if st.Done {
		// Done by the Deployment's status, which the caches' pods may
		// not have caught up with yet.
		st.Updated, st.Ready, st.Available = int(d.Status.UpdatedReplicas), int(d.Status.ReadyReplicas), int(d.Status.AvailableReplicas)
		st.Old = max(0, int(d.Status.Replicas-d.Status.UpdatedReplicas))
	}
	if !st.Done && st.Waiting == "" {
		st.Waiting = kst.Message
	}
	return st, nil
}

func (p *Platform) statefulSetProgress(w workload, s *appsv1.StatefulSet) (model.RolloutStatus, error) {
	st := model.RolloutStatus{Desired: replicasOf(s.Spec.Replicas)}
	kst, err := statefulSetRollout(s)
	if err != nil {
		// OnDelete: pods change only when deleted; the rollout is done
		// once every pod runs the update revision.
		kst = RolloutState{Message: err.Error()}
	}
	pods, err := p.podsOf(w)
	if err != nil {
		return st, err
	}
	observed := s.Status.ObservedGeneration >= s.Generation && s.Status.UpdateRevision != ""
	current := func(pod *corev1.Pod) bool {
		return observed && pod.Labels[appsv1.ControllerRevisionHashLabelKey] == s.Status.UpdateRevision
	}
	p.countPods(&st, pods, current, s.Spec.MinReadySeconds)
	st.Done = kst.Done || (observed && st.Updated == st.Desired && st.Available == st.Desired && st.Old == 0)
	if !st.Done && st.Waiting == "" {
		st.Waiting = kst.Message
	}
	return st, nil
}

// countPods fills the counts of st from a workload's pods: current tells a
// pod of the template being rolled out. Pods being deleted or finished
// count as old when not current and are left out otherwise.
func (p *Platform) countPods(st *model.RolloutStatus, pods []*corev1.Pod, current func(*corev1.Pod) bool, minReady int32) {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return cmp.Compare(a.Name, b.Name) })
	now := p.now()
	for _, pod := range pods {
		if !current(pod) {
			if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
				st.Old++
			}
			continue
		}
		if pod.DeletionTimestamp != nil {
			continue
		}
		in := instanceOf(pod)
		st.Updated++
		if in.Ready {
			st.Ready++
			if !readySince(pod).Add(time.Duration(minReady) * time.Second).After(now) {
				st.Available++
			}
		}
		if !in.Ready && st.Waiting == "" {
			st.Waiting = pod.Name + ": " + waitingWhy(pod, in)
		}
		ri := model.RolloutInstance{Name: in.Name, Status: in.Status, Ready: in.Ready, Restarts: in.Restarts}
		if in.LastExit != nil {
			e := *in.LastExit
			ri.LastExit = &e
		}
		st.New = append(st.New, ri)
	}
}

// readySince is when a pod last became ready; its creation when unknown.
func readySince(pod *corev1.Pod) metav1.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime
		}
	}
	return pod.CreationTimestamp
}

// waitingWhy says why a pod of the new template is not ready, in the
// kubelet's words when it gave some.
func waitingWhy(pod *corev1.Pod, in model.Instance) string {
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			if w.Message != "" {
				return w.Reason + ": " + w.Message
			}
			return w.Reason
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Message != "" {
			return "unschedulable: " + c.Message
		}
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && c.Message != "" {
			return "not ready: " + c.Message
		}
	}
	return fmt.Sprintf("%s, not ready", in.Status)
}

// ObservedTemplates lists every Deployment's and StatefulSet's template as
// a run spec, from the caches, once its controller has observed it.
func (p *Platform) ObservedTemplates(ctx context.Context) ([]platform.ObservedTemplate, error) {
	if err := p.waitSynced(ctx); err != nil {
		return nil, err
	}
	ws, err := p.workloads()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	out := make([]platform.ObservedTemplate, 0, len(ws))
	for _, w := range ws {
		var (
			meta     *metav1.ObjectMeta
			tmpl     *corev1.PodTemplateSpec
			observed int64
		)
		switch w.kind {
		case kindDeployment:
			d, err := p.deployments.Deployments(w.namespace).Get(w.name)
			if err != nil {
				continue
			}
			meta, tmpl, observed = &d.ObjectMeta, &d.Spec.Template, d.Status.ObservedGeneration
		case kindStatefulSet:
			s, err := p.statefulSets.StatefulSets(w.namespace).Get(w.name)
			if err != nil {
				continue
			}
			meta, tmpl, observed = &s.ObjectMeta, &s.Spec.Template, s.Status.ObservedGeneration
		default:
			continue
		}
		if observed < meta.Generation {
			// Its controller has not acted on this template yet, so the
			// revision that holds it may not exist: the next look sees
			// it with its revision (a history imported now would miss
			// it).
			continue
		}
		p.mu.Lock()
		settled := meta.Generation >= p.written[w.uid]
		p.mu.Unlock()
		out = append(out, platform.ObservedTemplate{
			Project: w.project, Service: w.name, Spec: specOf(tmpl), Settled: settled,
			By: p.writerOf(meta), Unmanaged: unmanaged(w, meta),
		})
	}
	return out, nil
}

// generationWriter is who made the change that gave a workload generation.
type generationWriter struct {
	generation int64
	by         string
}

// noteWriter records, for an update of a Deployment or StatefulSet that
// changed its spec, the field manager whose entry of the managed fields
// the update added or stamped anew: the one that made it. Managed fields are stamped to
// the second, so two writers within one second cannot be told apart by
// their times (lastWriter).
func (p *Platform) noteWriter(oldObj, newObj any) {
	prev, ok1 := oldObj.(metav1.Object)
	cur, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 || cur.GetGeneration() == prev.GetGeneration() {
		return
	}
	before := map[string]metav1.ManagedFieldsEntry{}
	for _, f := range prev.GetManagedFields() {
		before[f.Manager+"\x00"+string(f.Operation)+"\x00"+f.Subresource] = f
	}
	by := ""
	for _, f := range cur.GetManagedFields() {
		if !writerEntry(f) {
			continue
		}
		// The writer's entry is new or newly stamped; an entry that only
		// lost fields (to the writer, which took them over) is not it.
		if b, had := before[f.Manager+"\x00"+string(f.Operation)+"\x00"+f.Subresource]; had && b.Time.Equal(f.Time) {
			continue
		}
		if by != "" && by != f.Manager {
			return // two writers changed: lastWriter decides
		}
		by = f.Manager
	}
	if by == "" {
		return
	}
	p.mu.Lock()
	p.writers[cur.GetUID()] = generationWriter{generation: cur.GetGeneration(), by: by}
	p.mu.Unlock()
}

// forgetWriter drops what noteWriter kept of a deleted workload.
func (p *Platform) forgetWriter(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if m, ok := obj.(metav1.Object); ok {
		p.mu.Lock()
		delete(p.writers, m.GetUID())
		p.mu.Unlock()
	}
}

// writerOf names who changed a workload's template last: the writer
// noteWriter saw make its current generation, else lastWriter.
func (p *Platform) writerOf(meta *metav1.ObjectMeta) string {
	p.mu.Lock()
	w, ok := p.writers[meta.UID]
	p.mu.Unlock()
	if ok && w.generation == meta.Generation {
		return w.by
	}
	return lastWriter(meta)
}

// writerEntry is whether a managed fields entry can name a writer: not
// opshub, a status write or the API server's own controllers.
func writerEntry(f metav1.ManagedFieldsEntry) bool {
	return f.Manager != userAgent && f.Subresource == "" && f.Time != nil && !strings.HasPrefix(f.Manager, "kube-")
}

// lastWriter is the field manager that updated an object last, other than
// opshub and the API server's own controllers.
func lastWriter(meta *metav1.ObjectMeta) string {
	var by string
	var at metav1.Time
	for _, f := range meta.ManagedFields {
		if !writerEntry(f) {
			continue
		}
		if by == "" || !f.Time.Before(&at) {
			by, at = f.Manager, *f.Time
		}
	}
	return by
}

// Revisions lists a Deployment's revisions from its ReplicaSets, or a
// StatefulSet's from its ControllerRevisions, oldest first.
func (p *Platform) Revisions(ctx context.Context, project, name string) ([]platform.Revision, error) {
	w, err := p.releasable(ctx, project, name)
	if err != nil {
		return nil, err
	}
	if w.kind == kindStatefulSet {
		return p.statefulSetRevisions(ctx, w)
	}
	objs, err := p.rsIndex.ByIndex(byController, string(w.uid))
	if err != nil {
		return nil, fmt.Errorf("replicasets of %s/%s: %w", w.namespace, w.name, err)
	}
	var out []platform.Revision
	for _, obj := range objs {
		rs := obj.(*appsv1.ReplicaSet)
		if n := revisionOf(rs.Annotations); n > 0 {
			out = append(out, platform.Revision{Revision: n, Spec: specOf(&rs.Spec.Template), Created: rs.CreationTimestamp.UTC(), Cause: rs.Annotations[ChangeCauseAnnotation]})
		}
	}
	slices.SortFunc(out, func(a, b platform.Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	return out, nil
}

func (p *Platform) statefulSetRevisions(ctx context.Context, w workload) ([]platform.Revision, error) {
	s, err := p.statefulSets.StatefulSets(w.namespace).Get(w.name)
	if err != nil {
		return nil, fmt.Errorf("statefulset %s/%s: %w", w.namespace, w.name, err)
	}
	crs, err := p.controllerRevisions(ctx, s)
	if err != nil {
		return nil, err
	}
	out := make([]platform.Revision, 0, len(crs))
	for _, cr := range crs {
		t, err := templateOf(cr)
		if err != nil {
			return nil, err
		}
		out = append(out, platform.Revision{Revision: cr.Revision, Spec: specOf(t), Created: cr.CreationTimestamp.UTC()})
	}
	slices.SortFunc(out, func(a, b platform.Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	return out, nil
}
