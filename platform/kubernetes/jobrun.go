package kubernetes

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// Labels and annotations of the Jobs opshub creates.
const (
	// RunLabel names the opshub run (a job run's attempt or a flow step's)
	// a Job was created for.
	RunLabel = "opshub.dev/run"
	// instantiateAnnotation is what `kubectl create job --from=cronjob/…`
	// puts on the Jobs it creates.
	instantiateAnnotation = "cronjob.kubernetes.io/instantiate"
)

// jobPoll is how often a created Job's status is read.
const jobPoll = 250 * time.Millisecond

// JobRequest is one Job to create from a template.
type JobRequest struct {
	// Project and Name name the CronJob (or, without one, the Job) whose
	// template the Job is created from; Project is its namespace.
	Project, Name string
	// JobName is the created Job's name (a DNS label, made one if it is
	// not).
	JobName string
	// Env is added to every container's environment (replacing variables
	// of the same name).
	Env map[string]string
	// Command, when set, replaces the command of Container (the first
	// container when "") and clears its args.
	Command   []string
	Container string
	// Logs receives the output of the Job's pod once it has ended, when
	// the API server can read it (pods/log); nil leaves it out.
	Logs io.Writer
}

// RunJob runs one attempt of the job project/name (jobs.Runner): a Job
// created from the CronJob's jobTemplate, or from the Job's template, as
// `kubectl create job --from` does, named instance, with env added; it
// returns how its pod ended once the Job has completed or failed. When ctx
// ends first the Job and its pods are deleted.
func (p *Platform) RunJob(ctx context.Context, project, name, instance string, env map[string]string, started func(string)) (model.Exit, error) {
	return p.RunFromTemplate(ctx, JobRequest{Project: project, Name: name, JobName: instance, Env: env}, started)
}

// IsJob tells whether project/name is a CronJob or a Job in the cluster.
func (p *Platform) IsJob(ctx context.Context, project, name string) bool {
	_, _, _, err := p.jobSource(ctx, project, name)
	return err == nil
}

// jobSource reads the namespace and template a Job is created from, and the
// owner the new Job gets (the CronJob; none for a copy of a Job).
func (p *Platform) jobSource(ctx context.Context, project, name string) (string, *batchv1.JobTemplateSpec, []metav1.OwnerReference, error) {
	ns := project
	if w, err := p.find(ctx, project, name); err == nil && (w.kind == kindJob || w.kind == kindCronJob) {
		ns = w.namespace
	}
	cj, err := p.client.BatchV1().CronJobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		t := cj.Spec.JobTemplate.DeepCopy()
		yes := true
		owner := []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: kindCronJob, Name: cj.Name, UID: cj.UID, Controller: &yes}}
		return ns, t, owner, nil
	}
	if !apierrors.IsNotFound(err) {
		return "", nil, nil, fmt.Errorf("read cronjob %s/%s: %w", ns, name, err)
	}
	j, err := p.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil, nil, fmt.Errorf("job %s/%s: no CronJob or Job of that name: %w", project, name, platform.ErrNotFound)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("read job %s/%s: %w", ns, name, err)
	}
	// A Job's selector and the labels the Job controller put on its
	// template belong to that Job; the copy gets its own.
	t := &batchv1.JobTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(j.Labels), Annotations: maps.Clone(j.Annotations)}, Spec: *j.Spec.DeepCopy()}
	t.Spec.Selector, t.Spec.ManualSelector = nil, nil
	for _, k := range []string{"controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"} {
		delete(t.Labels, k)
		delete(t.Spec.Template.Labels, k)
	}
	return ns, t, nil, nil
}

// RunFromTemplate creates the Job req asks for, calls started with its
// name, and follows it to completion. Its exit is the exit code of the
// container that ran (the first that terminated); a Job that failed
// without one exits 1.
func (p *Platform) RunFromTemplate(ctx context.Context, req JobRequest, started func(string)) (model.Exit, error) {
	ns, src, owners, err := p.jobSource(ctx, req.Project, req.Name)
	if err != nil {
		return model.Exit{}, err
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: dnsLabel(req.JobName), Namespace: ns, Labels: maps.Clone(src.Labels), Annotations: maps.Clone(src.Annotations),
			OwnerReferences: owners,
		},
		Spec: src.Spec,
	}
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Labels[RunLabel] = job.Name
	job.Annotations[instantiateAnnotation] = "manual"
	// One Job is one attempt: opshub's job engine retries by creating
	// another, as it does on one machine.
	zero := int32(0)
	job.Spec.BackoffLimit = &zero
	if err := setJobCommand(&job.Spec.Template.Spec, req); err != nil {
		return model.Exit{}, err
	}
	created, err := p.client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return model.Exit{}, fmt.Errorf("create job %s/%s from %s: %w", ns, job.Name, req.Name, err)
	}
	p.log.Info("job created from template", "namespace", ns, "job", created.Name, "from", req.Name)
	if started != nil {
		started(created.Name)
	}
	exit, err := p.followJob(ctx, created)
	if req.Logs != nil {
		p.copyJobLogs(created, req.Container, req.Logs)
	}
	return exit, err
}

// DeleteJobFromTemplate deletes, with its pods, the Job RunFromTemplate
// created for req (its JobName, in the template's namespace): an attempt a
// previous leader left running. It returns the Job's namespace/name, and
// "" when there was none.
func (p *Platform) DeleteJobFromTemplate(ctx context.Context, req JobRequest) (string, error) {
	ns, _, _, err := p.jobSource(ctx, req.Project, req.Name)
	if err != nil {
		return "", err
	}
	name := dnsLabel(req.JobName)
	bg := metav1.DeletePropagationBackground
	err = p.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("delete job %s/%s: %w", ns, name, err)
	}
	p.log.Info("job of an interrupted run deleted", "namespace", ns, "job", name)
	return ns + "/" + name, nil
}

// setJobCommand adds env to every container and sets the command.
func setJobCommand(spec *corev1.PodSpec, req JobRequest) error {
	if len(spec.Containers) == 0 {
		return fmt.Errorf("template of %s/%s has no container", req.Project, req.Name)
	}
	target := 0
	if req.Container != "" {
		target = slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == req.Container })
		if target < 0 {
			return fmt.Errorf("template of %s/%s has no container %q", req.Project, req.Name, req.Container)
		}
	}
	keys := slices.Sorted(maps.Keys(req.Env))
	for i := range spec.Containers {
		c := &spec.Containers[i]
		for _, k := range keys {
			c.Env = slices.DeleteFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == k })
			c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: req.Env[k]})
		}
	}
	if len(req.Command) > 0 {
		spec.Containers[target].Command = slices.Clone(req.Command)
		spec.Containers[target].Args = nil
	}
	return nil
}

// followJob waits for the Job's Complete or Failed condition. When ctx
// ends first the Job is deleted with its pods.
func (p *Platform) followJob(ctx context.Context, job *batchv1.Job) (model.Exit, error) {
	jobs := p.client.BatchV1().Jobs(job.Namespace)
	tick := time.NewTicker(jobPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			bg := metav1.DeletePropagationBackground
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := jobs.Delete(dctx, job.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
			cancel()
			if err != nil && !apierrors.IsNotFound(err) {
				p.log.Warn("delete stopped job", "namespace", job.Namespace, "job", job.Name, "error", err)
			}
			return model.Exit{Code: 137, Reason: "Stopped"}, nil
		case <-tick.C:
		}
		j, err := jobs.Get(ctx, job.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return model.Exit{}, fmt.Errorf("job %s/%s was deleted before it ended", job.Namespace, job.Name)
		case err != nil:
			if ctx.Err() == nil {
				p.log.Warn("read job", "namespace", job.Namespace, "job", job.Name, "error", err)
			}
			continue
		}
		for _, c := range j.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				return p.jobExit(ctx, j, model.Exit{Code: 0, Reason: "Completed"}), nil
			case batchv1.JobFailed:
				exit := p.jobExit(ctx, j, model.Exit{Code: 1, Reason: c.Reason})
				if exit.Code == 0 {
					exit.Code = 1
				}
				return exit, nil
			}
		}
	}
}

// jobExit is the exit of the Job's newest terminated container, or def.
func (p *Platform) jobExit(ctx context.Context, j *batchv1.Job, def model.Exit) model.Exit {
	pods, err := p.client.CoreV1().Pods(j.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
	if err != nil {
		return def
	}
	var newest *corev1.ContainerStateTerminated
	for _, pod := range pods.Items {
		for _, cs := range pod.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil && (newest == nil || t.FinishedAt.After(newest.FinishedAt.Time)) {
				newest = t
			}
		}
	}
	if newest == nil {
		return def
	}
	reason := newest.Reason
	if reason == "" {
		reason = def.Reason
	}
	return model.Exit{Code: int(newest.ExitCode), Reason: reason, Time: newest.FinishedAt.Time}
}

// copyJobLogs writes the output of the Job's pods to w; where the API
// server cannot read it (no kubelet answers), it says so.
func (p *Platform) copyJobLogs(j *batchv1.Job, container string, w io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := p.client.CoreV1().Pods(j.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + j.Name})
	if err != nil {
		fmt.Fprintf(w, "[opshub] pods of job %s: %v\n", j.Name, err)
		return
	}
	for _, pod := range pods.Items {
		opts := &corev1.PodLogOptions{Container: container}
		rc, err := p.client.CoreV1().Pods(j.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
		if err != nil {
			fmt.Fprintf(w, "[opshub] logs of pod %s: %v (they reach the sinks through the collectors)\n", pod.Name, err)
			continue
		}
		_, _ = io.Copy(w, rc)
		_ = rc.Close()
	}
}

// dnsLabel makes s a DNS label: lower case, letters, digits and '-', at
// most 63 characters, starting and ending with a letter or digit.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[len(out)-63:]
	}
	out = strings.Trim(out, "-")
	if out == "" {
		return "run"
	}
	return out
}
