//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
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
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
)

// jobKubelet ends the pods of Jobs in a namespace as a kubelet would once
// their container exited: a container whose command has "fail" in it
// exits 3 (the pod Failed), any other exits 0 (Succeeded).
func startJobKubelet(t *testing.T, c *kubetest.Cluster, ns string) {
	startJobKubeletHolding(t, c, ns, nil)
}

// startJobKubeletHolding is startJobKubelet leaving running the pods held
// says to hold, for as long as it says so.
func startJobKubeletHolding(t *testing.T, c *kubetest.Cluster, ns string, held func(*corev1.Pod) bool) {
	inBackground(t, func(ctx context.Context) {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return
		}
		for i := range pods.Items {
			if held == nil || !held(&pods.Items[i]) {
				endJobPod(ctx, c, &pods.Items[i])
			}
		}
	})
}

// waitRole waits until a controller's /readyz says want ("ok: leading",
// "ok: following NAME").
func waitRole(t *testing.T, url, who, want string) {
	t.Helper()
	sinktest.Eventually(t, waitTimeout, who+" "+strings.TrimPrefix(want, "ok: "), func() error {
		if got := readyz(url); got != want {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
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
	c := startControllerCluster(t)
	ctx := context.Background()
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

	t.Run("a backup step is refused on a cluster without VolumeSnapshots", func(t *testing.T) {
		cfg, err := app.ParseConfig([]byte(controllerConfig(t, c, "127.0.0.1:0", "http://127.0.0.1:1/hook")+`
release:
  flows:
    - name: nightly
      steps:
        - {name: backup, backup: {project: shop, service: db, volume: data}}
`), "controller.yaml")
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		err = app.RunController(rctx, cfg, app.ControllerOptions{Identity: "controller-1"})
		if err == nil || !strings.Contains(err.Error(), "release.flows[0].steps[0].backup: the cluster does not serve VolumeSnapshots (snapshot.storage.k8s.io/v1)") {
			t.Errorf("RunController with a backup step on a cluster without the VolumeSnapshot API: %v", err)
		}
	})
}

// jobsNamed lists the Jobs in ns whose names contain part.
func jobsNamed(t *testing.T, c *kubetest.Cluster, ns, part string) []string {
	t.Helper()
	list, err := c.Client.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, j := range list.Items {
		if strings.Contains(j.Name, part) && j.DeletionTimestamp == nil {
			out = append(out, j.Name)
		}
	}
	return out
}

// flowStep returns the named step of a run.
func flowStep(r client.FlowRun, name string) client.FlowStep {
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	return client.FlowStep{}
}

// TestFlowRunSettledAcrossAControllerFailover kills the leading controller
// (SIGKILL) while a flow run's second step is a running Job and a second
// run waits queued behind it. The new leader settles the runs as
// docs/flows.md says: the first run is failed as interrupted (its
// succeeded step kept and never run again, its running step failed and
// that step's Job deleted with its pods, the step after it skipped,
// flow.failed sent), and the queued run runs to its end under the new
// leader; both are read through the new leader's API and CLI.
func TestFlowRunSettledAcrossAControllerFailover(t *testing.T) {
	dir, err := sinktest.OpshubBinaries()
	if err != nil {
		t.Fatal(err)
	}
	c := startControllerCluster(t)
	ctx := context.Background()
	var hold atomic.Bool
	hold.Store(true)
	startJobKubeletHolding(t, c, "shop", func(p *corev1.Pod) bool {
		return hold.Load() && strings.Contains(strings.Join(p.Spec.Containers[0].Command, " "), "--hold")
	})
	if _, err := c.Client.BatchV1().CronJobs("shop").Create(ctx, migrateCronJob(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hook, hookSrv := newReceiver(t)
	configFor := func(listen string) string {
		return strings.Replace(controllerConfig(t, c, listen, hookSrv.URL), "events: [container.crashloop]", "events: [flow.*]", 1) + `
release:
  flows:
    - name: ship
      concurrency: queue
      jobTemplate: {project: shop, name: migrate, container: main}
      steps:
        - {name: prepare, run: {command: [/prepare]}}
        - {name: migrate, run: {command: [/migrate, --hold]}, needs: [prepare]}
        - {name: finish, run: {command: [/finish]}, needs: [migrate]}
`
	}
	a := startControllerProcessWith(t, "controller-a", configFor)
	waitRole(t, a.url, "controller-a", "ok: leading")
	b := startControllerProcessWith(t, "controller-b", configFor)
	waitRole(t, b.url, "controller-b", "ok: following controller-a")
	apiA, _ := client.New(a.url, "")
	apiB, _ := client.New(b.url, "")

	first, err := apiA.RunFlow(ctx, "ship", nil)
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Eventually(t, waitTimeout, "the first run's migrate step runs as a Job", func() error {
		r, err := apiA.FlowRun(ctx, first.ID)
		if err != nil {
			return err
		}
		if flowStep(r, "prepare").State != "succeeded" || flowStep(r, "migrate").State != "running" || len(jobsNamed(t, c, "shop", first.ID+"-migrate-")) != 1 {
			return fmt.Errorf("run %+v", r)
		}
		return nil
	})
	second, err := apiA.RunFlow(ctx, "ship", nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.State != "queued" {
		t.Fatalf("second run %s is %s, want queued behind the first", second.ID, second.State)
	}

	killed := time.Now()
	a.Signal(t, syscall.SIGKILL)
	_ = a.Wait(t, waitTimeout)
	waitRole(t, b.url, "controller-b", "ok: leading")
	t.Logf("controller-b leads %s after controller-a was killed", time.Since(killed).Round(100*time.Millisecond))

	r1, err := apiB.FlowRun(ctx, first.ID)
	if err != nil {
		t.Fatalf("the first run under the new leader: %v", err)
	}
	prepare, migrate, finish := flowStep(r1, "prepare"), flowStep(r1, "migrate"), flowStep(r1, "finish")
	if r1.State != "failed" || !strings.Contains(r1.Message, "interrupted") ||
		prepare.State != "succeeded" || prepare.Attempts != 1 ||
		migrate.State != "failed" || !strings.Contains(migrate.Message, "interrupted") || finish.State != "skipped" {
		t.Errorf("the first run under the new leader: %+v; want failed as interrupted, prepare succeeded once, migrate failed, finish skipped", r1)
	}
	sinktest.Eventually(t, waitTimeout, "the interrupted step's Job is deleted", func() error {
		if jobs := jobsNamed(t, c, "shop", first.ID+"-migrate-"); len(jobs) != 0 {
			return fmt.Errorf("jobs %v", jobs)
		}
		return nil
	})
	lines, err := apiB.FlowStepLogs(ctx, first.ID, "migrate")
	if err != nil || !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "was deleted with its pods") }) {
		t.Errorf("the interrupted step's log %q (%v), want the deleted Job named", lines, err)
	}
	if jobs := jobsNamed(t, c, "shop", first.ID+"-prepare-"); len(jobs) != 1 {
		t.Errorf("Jobs of the first run's prepare step: %v, want the one of controller-a (never run again)", jobs)
	}
	if jobs := jobsNamed(t, c, "shop", first.ID+"-finish-"); len(jobs) != 0 {
		t.Errorf("Jobs of the first run's finish step: %v, want none", jobs)
	}

	// The queued run runs under the new leader once the held step may end.
	sinktest.Eventually(t, waitTimeout, "the queued run starts under the new leader", func() error {
		r, err := apiB.FlowRun(ctx, second.ID)
		if err != nil {
			return err
		}
		if flowStep(r, "migrate").State != "running" {
			return fmt.Errorf("run %+v", r)
		}
		return nil
	})
	hold.Store(false)
	var r2 client.FlowRun
	sinktest.Eventually(t, waitTimeout, "the queued run ends", func() error {
		r2, err = apiB.FlowRun(ctx, second.ID)
		if err != nil || !r2.Done() {
			return fmt.Errorf("run %+v (%v)", r2, err)
		}
		return nil
	})
	if r2.State != "succeeded" {
		t.Errorf("the queued run under the new leader: %+v, want succeeded", r2)
	}
	for _, step := range []string{"prepare", "migrate", "finish"} {
		if jobs := jobsNamed(t, c, "shop", second.ID+"-"+step+"-"); len(jobs) != 1 {
			t.Errorf("Jobs of the second run's %s step: %v, want one", step, jobs)
		}
	}

	runs, err := apiB.FlowRuns(ctx, "ship")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != second.ID || runs[1].ID != first.ID {
		t.Errorf("runs on the new leader %+v, want the two, newest first", runs)
	}
	out, err := exec.Command(filepath.Join(dir, "opshub"), "--server", b.url, "flow", "status", first.ID).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "interrupted") {
		t.Errorf("opshub flow status %s on the new leader: %v\n%s", first.ID, err, out)
	}
	sinktest.Eventually(t, waitTimeout, "flow.failed of the interrupted run from the new leader", func() error {
		for _, ev := range hook.eventsNamed(model.EventFlowFailed) {
			if ev.Data["run"] == first.ID && ev.Data["step"] == "migrate" {
				return nil
			}
		}
		return fmt.Errorf("flow.failed events %+v", hook.eventsNamed(model.EventFlowFailed))
	})
}
