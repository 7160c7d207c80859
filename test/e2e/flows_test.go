//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/platform/kubernetes"
)

// jobKubelet ends the pods of Jobs in a namespace as a kubelet would once
// their container exited: a container whose command has "fail" in it
// exits 3 (the pod Failed), any other exits 0 (Succeeded).
func startJobKubelet(t *testing.T, c *kubetest.Cluster, ns string) {
	inBackground(t, func(ctx context.Context) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range pods.Items {
				endJobPod(ctx, c, &pods.Items[i])
			}
		}
	})
}

// inBackground calls pass at once and then every 100 ms until the test
// ends; the test's clean-up waits for the pass under way.
func inBackground(t *testing.T, pass func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			pass(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func endJobPod(ctx context.Context, c *kubetest.Cluster, pod *corev1.Pod) {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil {
		return
	}
	_ = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := c.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		p = p.DeepCopy()
		ctr := p.Spec.Containers[0]
		code, phase, reason := int32(0), corev1.PodSucceeded, "Completed"
		if strings.Contains(strings.Join(ctr.Command, " "), "fail") {
			code, phase, reason = 3, corev1.PodFailed, "Error"
		}
		now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
		p.Status.Phase = phase
		p.Status.StartTime = &now
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: ctr.Name, Image: ctr.Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, StartedAt: now, FinishedAt: now}},
		}}
		_, err = c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	})
}

// migrateCronJob is a suspended CronJob (Kubernetes never starts it on
// its own in the test) whose pods the test ends. Its history limits keep
// every Job the test makes: the CronJob controller prunes the Jobs it
// owns, those created from it included, as it does kubectl's.
func migrateCronJob() *batchv1.CronJob {
	suspend := true
	keep := int32(10)
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *", Suspend: &suspend, SuccessfulJobsHistoryLimit: &keep, FailedJobsHistoryLimit: &keep,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migrate"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migrate"}, Annotations: map[string]string{kubetest.DrivenAnnotation: "true"}},
					Spec: corev1.PodSpec{
						NodeName: kubetest.NodeName, RestartPolicy: corev1.RestartPolicyNever,
						Containers: []corev1.Container{{Name: "main", Image: "registry.example.com/migrate:1", Command: []string{"/migrate"},
							Env: []corev1.EnvVar{{Name: "DB", Value: "main"}}}},
					},
				}},
			},
		},
	}
}

// TestJobsAndFlowRunStepsOnKubernetes: `opshub job run` of a CronJob on
// the controller creates a Job from its jobTemplate as `kubectl create job
// --from=cronjob/…` does (owned by the CronJob, annotated manual, with the
// run's env) and follows it to completion; a flow's job step does the
// same, and its run steps are Jobs from the flow's jobTemplate with the
// step's command; a run step that fails is one Job per attempt and fails
// the run.
func TestJobsAndFlowRunStepsOnKubernetes(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	c.Namespace(t, "opshub")
	c.Namespace(t, "shop")
	startJobKubelet(t, c, "shop")
	if _, err := c.Client.BatchV1().CronJobs("shop").Create(ctx, migrateCronJob(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	run := runController(t, func(listen string) string {
		return controllerConfig(t, c, listen, "http://127.0.0.1:1/hook") + `
release:
  flows:
    - name: ship
      jobTemplate: {project: shop, name: migrate, container: main}
      steps:
        - {name: migrate, job: {project: shop, name: migrate, env: {VERSION: "${ARG_VERSION}"}}}
        - {name: smoke, run: {command: [/smoke, --version, "${ARG_VERSION}"]}, env: {TARGET: shop}, needs: [migrate]}
    - name: broken
      jobTemplate: {project: shop, name: migrate}
      steps:
        - {name: check, run: {command: [/fail-check]}, retries: 1}
        - {name: never, run: {command: [/never]}, needs: [check]}
`
	}, app.ControllerOptions{MetricsInterval: time.Second})
	cl, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}

	jr, err := cl.RunJob(ctx, "shop", "migrate", map[string]string{"VERSION": "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "the job run to succeed", func() error {
		runs, err := cl.JobRuns(ctx, "shop", "migrate")
		if err != nil {
			return err
		}
		if len(runs) != 1 || runs[0].State != "succeeded" {
			return fmt.Errorf("runs %+v", runs)
		}
		return nil
	})
	job, err := c.Client.BatchV1().Jobs("shop").Get(ctx, jr.ID+"-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the run's Job: %v", err)
	}
	owner := metav1.GetControllerOf(job)
	ctr := job.Spec.Template.Spec.Containers[0]
	if owner == nil || owner.Kind != "CronJob" || owner.Name != "migrate" || job.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" ||
		!slices.Contains(ctr.Env, corev1.EnvVar{Name: "VERSION", Value: "1.0"}) || !slices.Contains(ctr.Env, corev1.EnvVar{Name: "DB", Value: "main"}) ||
		job.Labels[kubernetes.RunLabel] != job.Name {
		t.Errorf("Job %s: owner %+v, annotations %v, env %v, labels %v; want a manual Job of the CronJob with the run's env", job.Name, owner, job.Annotations, ctr.Env, job.Labels)
	}

	fr, err := cl.RunFlow(ctx, "ship", map[string]string{"version": "2.0"})
	if err != nil {
		t.Fatal(err)
	}
	var done client.FlowRun
	sinktest.Eventually(t, waitTimeout, "the ship flow to end", func() error {
		done, err = cl.FlowRun(ctx, fr.ID)
		if err != nil || !done.Done() {
			return fmt.Errorf("run %+v (%v)", done, err)
		}
		return nil
	})
	if done.State != "succeeded" {
		t.Fatalf("flow run %+v, want succeeded", done)
	}
	jobs, err := c.Client.BatchV1().Jobs("shop").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var smoke *batchv1.Job
	for i, j := range jobs.Items {
		if strings.Contains(j.Name, "smoke") {
			smoke = &jobs.Items[i]
		}
	}
	if smoke == nil {
		t.Fatalf("no Job for the run step among %d Jobs", len(jobs.Items))
	}
	sc := smoke.Spec.Template.Spec.Containers[0]
	if !slices.Equal(sc.Command, []string{"/smoke", "--version", "2.0"}) || !slices.Contains(sc.Env, corev1.EnvVar{Name: "TARGET", Value: "shop"}) {
		t.Errorf("run step's Job container %+v, want the step's command and env", sc)
	}
	lines, _ := cl.FlowStepLogs(ctx, fr.ID, "smoke")
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "job ended: exit code 0") }) {
		t.Errorf("smoke step log %q, want the Job's end", lines)
	}

	br, err := cl.RunFlow(ctx, "broken", nil)
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "the broken flow to end", func() error {
		done, err = cl.FlowRun(ctx, br.ID)
		if err != nil || !done.Done() {
			return fmt.Errorf("run %+v (%v)", done, err)
		}
		return nil
	})
	var check, never client.FlowStep
	for _, s := range done.Steps {
		switch s.Name {
		case "check":
			check = s
		case "never":
			never = s
		}
	}
	if done.State != "failed" || check.Attempts != 2 || !strings.Contains(check.Message, "exited with code 3") || never.State != "skipped" {
		t.Errorf("broken run %+v, want failed after two attempts exiting 3, the next step skipped", done)
	}
	jobs, _ = c.Client.BatchV1().Jobs("shop").List(ctx, metav1.ListOptions{})
	n := 0
	for _, j := range jobs.Items {
		if strings.Contains(j.Name, "-check-") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d Jobs for the failing step, want one per attempt (2)", n)
	}
}
