//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
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

// releaseKubelet stands in for the kubelet of the pods of one namespace
// whose status the test writes (kubetest.DrivenAnnotation): a pod whose
// image ends in ":broken" runs but never becomes ready (its readiness
// probe fails), one ending in ":crash" crash-loops, one whose image is held
// waits unready until released, and every other pod runs and is ready.
// Pods being deleted are removed, as a kubelet does once their containers
// stopped.
type releaseKubelet struct {
	mu   sync.Mutex
	held map[string]bool // images kept unready
}

func startReleaseKubelet(t *testing.T, c *kubetest.Cluster, ns string) *releaseKubelet {
	k := &releaseKubelet{held: map[string]bool{}}
	inBackground(t, func(ctx context.Context) { k.sync(ctx, c, ns) })
	return k
}

func (k *releaseKubelet) hold(image string, held bool) {
	k.mu.Lock()
	k.held[image] = held
	k.mu.Unlock()
}

func (k *releaseKubelet) sync(ctx context.Context, c *kubetest.Cluster, ns string) {
	pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil {
			zero := int64(0)
			_ = c.Client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			continue
		}
		image := pod.Spec.Containers[0].Image
		k.mu.Lock()
		held := k.held[image]
		k.mu.Unlock()
		switch {
		case strings.HasSuffix(image, ":crash"):
			if len(pod.Status.ContainerStatuses) == 0 {
				_ = crash(ctx, c, ns, pod.Name, 3, time.Now().UTC().Truncate(time.Second), "Error", 1)
			}
		case strings.HasSuffix(image, ":broken") || held:
			if pod.Status.Phase != corev1.PodRunning || podIsReady(pod) {
				_ = setPodStatus(ctx, c, ns, pod.Name, false)
			}
		default:
			if !podIsReady(pod) {
				_ = setPodStatus(ctx, c, ns, pod.Name, true)
			}
		}
	}
}

func podIsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// setPodStatus writes a running pod's status, ready or with a failing
// readiness probe.
func setPodStatus(ctx context.Context, c *kubetest.Cluster, ns, name string, ready bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewTime(time.Now().Add(-time.Second))
		cond := corev1.ConditionTrue
		if !ready {
			cond = corev1.ConditionFalse
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.StartTime = &now
		pod.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: cond, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: cond, LastTransitionTime: now},
		}
		if !ready {
			pod.Status.Conditions[3].Reason = "ContainersNotReady"
			pod.Status.Conditions[3].Message = "readiness probe failed: HTTP probe failed with statuscode: 503"
		}
		ct := pod.Spec.Containers[0]
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{
			Name: ct.Name, Image: ct.Image, Ready: ready, Started: &ready,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		}}
		_, err = c.Client.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

// releaseConfig is a controller's config for the release tests: a short
// progress deadline and a webhook for every deploy.* event.
func releaseConfig(t *testing.T, c *kubetest.Cluster, listen, hookURL string) string {
	cfg := strings.Replace(controllerConfig(t, c, listen, hookURL), "events: [container.crashloop]", "events: [deploy.*]", 1)
	return cfg + "release:\n  progressDeadline: 8s\n"
}

// releasesOf lists a service's releases, newest first.
func releasesOf(t *testing.T, api *client.Client, project, service string) []model.Release {
	t.Helper()
	rels, err := api.Releases(context.Background(), project, service)
	if err != nil {
		t.Fatalf("releases of %s/%s: %v", project, service, err)
	}
	return rels
}

// releaseEnds waits until revision of shop/web is no longer progressing and
// returns it with every distinct progress seen on the way.
func releaseEnds(t *testing.T, api *client.Client, revision int) (model.Release, []model.ReleaseProgress) {
	t.Helper()
	return releaseOfEnds(t, api, "web", revision)
}

// releaseOfEnds is releaseEnds for shop/service.
func releaseOfEnds(t *testing.T, api *client.Client, service string, revision int) (model.Release, []model.ReleaseProgress) {
	t.Helper()
	var rel model.Release
	var seen []model.ReleaseProgress
	sinktest.Eventually(t, waitTimeout, fmt.Sprintf("revision %d ends", revision), func() error {
		rels, err := api.Releases(context.Background(), "shop", service)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(rels, func(r model.Release) bool { return r.Revision == revision })
		if i < 0 {
			return fmt.Errorf("no revision %d in %d releases", revision, len(rels))
		}
		rel = rels[i]
		if p := rel.Progress; rel.State == model.ReleaseProgressing && (len(seen) == 0 || seen[len(seen)-1] != p) {
			seen = append(seen, p)
		}
		if rel.State == model.ReleaseProgressing {
			return fmt.Errorf("progressing: %+v", rel.Progress)
		}
		return nil
	})
	return rel, seen
}

// podImages counts the images of shop/web's pods that are not being
// deleted.
func podImages(t *testing.T, c *kubetest.Cluster) map[string]int {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods("shop").List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Spec.Containers[0].Image]++
		}
	}
	return out
}

func waitImages(t *testing.T, c *kubetest.Cluster, image string, n int) {
	t.Helper()
	sinktest.Eventually(t, waitTimeout, fmt.Sprintf("%d pods run %s", n, image), func() error {
		if got := podImages(t, c); got[image] != n || len(got) != 1 {
			return fmt.Errorf("images %v", got)
		}
		return nil
	})
}

// webWithEnv is a 3-replica Deployment shop/web whose pods the test's
// kubelet drives.
func startDrivenWeb(t *testing.T, c *kubetest.Cluster) *releaseKubelet {
	t.Helper()
	ctx := context.Background()
	c.Namespace(t, "opshub")
	c.Namespace(t, "shop")
	k := startReleaseKubelet(t, c, "shop")
	d := deployment("web", 3, map[string]string{kubetest.DrivenAnnotation: "true"})
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitImages(t, c, "registry.example/web:1", 3)
	return k
}

func TestReleasesOnKubernetes(t *testing.T) {
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	hook, hookSrv := newReceiver(t)
	k := startDrivenWeb(t, c)
	run := runController(t, func(listen string) string { return releaseConfig(t, c, listen, hookSrv.URL) }, app.ControllerOptions{})
	api, err := client.New(run.API, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("what ran first is revision 1, joined with the Deployment's revision", func(t *testing.T) {
		var rels []model.Release
		sinktest.Eventually(t, waitTimeout, "a history", func() error {
			rels = releasesOf(t, api, "shop", "web")
			if len(rels) != 1 || rels[0].State != model.ReleaseSucceeded {
				return fmt.Errorf("releases %+v", rels)
			}
			return nil
		})
		r := rels[0]
		if r.Revision != 1 || r.Trigger.Kind != model.TriggerExternal || r.Spec.Images["web"] != "registry.example/web:1" || r.PlatformRevision != 1 {
			t.Errorf("first release %+v", r)
		}
	})

	t.Run("deploy patches the pod template and follows the rollout", func(t *testing.T) {
		// The first new pod is held unready until the progress shows it.
		k.hold("registry.example/web:2", true)
		rel, err := api.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "registry.example/web:2", Container: "web", Env: map[string]string{"MODE": "fast"}, Version: "2.0"})
		if err != nil {
			t.Fatal(err)
		}
		if rel.Revision != 2 || rel.State != model.ReleaseProgressing || rel.Trigger.Kind != model.TriggerAPI {
			t.Errorf("deploy answered %+v", rel)
		}
		sinktest.Eventually(t, waitTimeout, "the progress names the pod the rollout waits on", func() error {
			r := releasesOf(t, api, "shop", "web")[0]
			if p := r.Progress; p.Desired != 3 || p.Updated != 1 || p.Ready != 0 || p.Old != 3 || !strings.Contains(p.Waiting, "readiness probe failed") {
				return fmt.Errorf("revision %d %s: %+v", r.Revision, r.State, p)
			}
			return nil
		})
		k.hold("registry.example/web:2", false)
		rel, seen := releaseEnds(t, api, 2)
		t.Logf("progress seen: %+v", seen)
		if rel.State != model.ReleaseSucceeded || rel.PlatformRevision != 2 {
			t.Fatalf("revision 2 ended %s (%s), platform revision %d", rel.State, rel.Reason, rel.PlatformRevision)
		}
		if p := rel.Progress; p.Desired != 3 || p.Updated != 3 || p.Ready != 3 || p.Old != 0 {
			t.Errorf("final progress %+v", p)
		}
		waitImages(t, c, "registry.example/web:2", 3)
		d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ct := d.Spec.Template.Spec.Containers[0]
		if len(ct.Env) != 1 || ct.Env[0] != (corev1.EnvVar{Name: "MODE", Value: "fast"}) || d.Spec.Template.Annotations[kubernetes.VersionAnnotation] != "2.0" {
			t.Errorf("template env %v, annotations %v", ct.Env, d.Spec.Template.Annotations)
		}
		sinktest.Eventually(t, waitTimeout, "deploy.started and deploy.succeeded notified", func() error {
			if len(hook.eventsNamed(model.EventDeployStarted)) < 1 || len(hook.eventsNamed(model.EventDeploySucceeded)) != 1 {
				return fmt.Errorf("started %d, succeeded %d", len(hook.eventsNamed(model.EventDeployStarted)), len(hook.eventsNamed(model.EventDeploySucceeded)))
			}
			return nil
		})
	})

	t.Run("a rollout whose pods stay unready fails at the deadline and is rolled back", func(t *testing.T) {
		started := time.Now()
		if _, err := api.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "registry.example/web:broken"}); err != nil {
			t.Fatal(err)
		}
		rel, _ := releaseEnds(t, api, 3)
		t.Logf("revision 3 ended after %s: %s", time.Since(started).Round(100*time.Millisecond), rel.Reason)
		if rel.State != model.ReleaseRolledBack || !strings.Contains(rel.Reason, "progress deadline exceeded") || !strings.Contains(rel.Reason, "readiness probe failed") {
			t.Errorf("revision 3: %s, %q", rel.State, rel.Reason)
		}
		back, _ := releaseEnds(t, api, 4)
		if back.State != model.ReleaseSucceeded || back.Trigger.Kind != model.TriggerAutoRollback || back.RollbackOf != 2 {
			t.Errorf("revision 4: %+v", back)
		}
		waitImages(t, c, "registry.example/web:2", 3)
		sinktest.Eventually(t, waitTimeout, "deploy.failed and deploy.rolled-back notified", func() error {
			failed := hook.eventsNamed(model.EventDeployFailed)
			if len(failed) != 1 || len(hook.eventsNamed(model.EventDeployRolledBack)) != 1 {
				return fmt.Errorf("failed %d, rolled back %d", len(failed), len(hook.eventsNamed(model.EventDeployRolledBack)))
			}
			if r, _ := failed[0].Data["reason"].(string); !strings.Contains(r, "progress deadline exceeded") {
				return fmt.Errorf("deploy.failed reason %q", r)
			}
			return nil
		})
	})

	t.Run("crash-looping new pods fail the rollout before its deadline", func(t *testing.T) {
		started := time.Now()
		if _, err := api.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "registry.example/web:crash"}); err != nil {
			t.Fatal(err)
		}
		rel, _ := releaseEnds(t, api, 5)
		took := time.Since(started)
		if rel.State != model.ReleaseRolledBack || !strings.Contains(rel.Reason, "crash-looping") || took >= 8*time.Second {
			t.Errorf("revision 5 after %s: %s, %q; want rolled back for crash-looping within the 8s deadline", took, rel.State, rel.Reason)
		}
		if back, _ := releaseEnds(t, api, 6); back.State != model.ReleaseSucceeded || back.RollbackOf != 4 {
			t.Errorf("revision 6: %+v", back)
		}
		waitImages(t, c, "registry.example/web:2", 3)
	})

	t.Run("rollback --to goes back to any revision", func(t *testing.T) {
		rel, err := api.Rollback(ctx, "shop", "web", 1)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Trigger.Kind != model.TriggerRollback || rel.RollbackOf != 1 {
			t.Errorf("rollback answered %+v", rel)
		}
		if rel, _ = releaseEnds(t, api, rel.Revision); rel.State != model.ReleaseSucceeded {
			t.Errorf("rollback ended %s: %s", rel.State, rel.Reason)
		}
		waitImages(t, c, "registry.example/web:1", 3)
		d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 0 {
			t.Errorf("env after rollback to revision 1: %v", env)
		}
		if _, err := api.Rollback(ctx, "shop", "web", 42); !isAPIError(err, 404, "revision") {
			t.Errorf("rollback to an unknown revision: %v", err)
		}
	})

	t.Run("a change made with kubectl is recorded as external", func(t *testing.T) {
		before := releasesOf(t, api, "shop", "web")[0].Revision
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:3"
			_, err = c.Client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-set"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rel, _ := releaseEnds(t, api, before+1)
		if rel.Trigger.Kind != model.TriggerExternal || rel.Trigger.By != "kubectl-set" || rel.State != model.ReleaseSucceeded || rel.Spec.Image != "registry.example/web:3" {
			t.Errorf("external release %+v", rel)
		}
		waitImages(t, c, "registry.example/web:3", 3)
	})

	t.Run("bad requests are refused naming the field", func(t *testing.T) {
		if _, err := api.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "x:1", Container: "sidecar"}); !isAPIError(err, 400, "container") {
			t.Errorf("unknown container: %v", err)
		}
		if _, err := api.Deploy(ctx, "shop", "nothere", client.DeployRequest{Image: "x:1"}); !isAPIError(err, 404, "service") {
			t.Errorf("unknown service: %v", err)
		}
	})

	t.Run("a StatefulSet is released by its rolling update", func(t *testing.T) {
		web := deployment("db", 2, map[string]string{kubetest.DrivenAnnotation: "true"})
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Name: "db"},
			Spec:       appsv1.StatefulSetSpec{Replicas: web.Spec.Replicas, Selector: web.Spec.Selector, Template: web.Spec.Template, ServiceName: "db"},
		}
		if _, err := c.Client.AppsV1().StatefulSets("shop").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/db's history", func() error {
			rels, err := api.Releases(ctx, "shop", "db")
			if err != nil || len(rels) != 1 || rels[0].State != model.ReleaseSucceeded || rels[0].PlatformRevision != 1 {
				return fmt.Errorf("releases %+v, %v", rels, err)
			}
			return nil
		})
		dbReady := func(image string, env int) func() error {
			return func() error {
				pods, err := c.Client.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=db"})
				if err != nil {
					return err
				}
				if len(pods.Items) != 2 {
					return fmt.Errorf("%d pods", len(pods.Items))
				}
				for _, p := range pods.Items {
					if p.Spec.Containers[0].Image != image || len(p.Spec.Containers[0].Env) != env || !podIsReady(&p) {
						return fmt.Errorf("%s runs %s with %d variables, ready %t", p.Name, p.Spec.Containers[0].Image, len(p.Spec.Containers[0].Env), podIsReady(&p))
					}
				}
				return nil
			}
		}
		sinktest.Eventually(t, waitTimeout, "db runs", dbReady("registry.example/db:1", 0))
		if _, err := api.Deploy(ctx, "shop", "db", client.DeployRequest{Image: "registry.example/db:2", Env: map[string]string{"CACHE": "on"}}); err != nil {
			t.Fatal(err)
		}
		if rel, _ := releaseOfEnds(t, api, "db", 2); rel.State != model.ReleaseSucceeded || rel.Progress.Updated != 2 || rel.Progress.Ready != 2 {
			t.Errorf("db revision 2: %s (%s), %+v", rel.State, rel.Reason, rel.Progress)
		}
		sinktest.Eventually(t, waitTimeout, "every db pod runs revision 2", dbReady("registry.example/db:2", 1))
		rel, err := api.Rollback(ctx, "shop", "db", 0)
		if err != nil {
			t.Fatal(err)
		}
		if rel, _ = releaseOfEnds(t, api, "db", rel.Revision); rel.State != model.ReleaseSucceeded || rel.RollbackOf != 1 {
			t.Errorf("db rollback: %+v", rel)
		}
		sinktest.Eventually(t, waitTimeout, "every db pod runs revision 1 again", dbReady("registry.example/db:1", 0))
	})

	t.Run("a workload that opted out refuses deploys and says why", func(t *testing.T) {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Annotations[kubernetes.ReleasesAnnotation] = kubernetes.ReleasesDisabled
			_, err = c.Client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		before := len(releasesOf(t, api, "shop", "web"))
		_, err := api.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "registry.example/web:4"})
		if !isAPIError(err, 409, "service") || !strings.Contains(err.Error(), "opshub.dev/releases: disabled") {
			t.Errorf("deploy of an opted-out workload: %v", err)
		}
		if _, err := api.Rollback(ctx, "shop", "web", 1); !isAPIError(err, 409, "service") {
			t.Errorf("rollback of an opted-out workload: %v", err)
		}
		if after := len(releasesOf(t, api, "shop", "web")); after != before {
			t.Errorf("%d releases after refused requests, want %d", after, before)
		}
		if got := podImages(t, c); got["registry.example/web:3"] != 3 {
			t.Errorf("images %v after refused requests", got)
		}

		// Its changes are still recorded, and a failed one is left to
		// whoever owns the template.
		last := releasesOf(t, api, "shop", "web")[0].Revision
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:broken"
			_, err = c.Client.AppsV1().Deployments("shop").Update(ctx, d, metav1.UpdateOptions{FieldManager: "argocd-controller"})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		rel, _ := releaseEnds(t, api, last+1)
		if rel.State != model.ReleaseFailed || rel.Trigger.Kind != model.TriggerExternal || rel.Trigger.By != "argocd-controller" {
			t.Errorf("failed external release of an opted-out workload: %s by %s %s (%s)", rel.State, rel.Trigger.Kind, rel.Trigger.By, rel.Reason)
		}
		if r := releasesOf(t, api, "shop", "web")[0]; r.Revision != rel.Revision {
			t.Errorf("a release after the failed one: %+v", r)
		}
	})
}

func isAPIError(err error, code int, field string) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.StatusCode == code && ae.Field == field
}

// TestReleaseFollowedAcrossAControllerFailover kills the leading controller
// (SIGKILL) while a deploy made with `opshub deploy` is rolling out; the
// new leader finds the release in the replicated state and follows it to
// its end: the release is neither lost nor recorded twice.
func TestReleaseFollowedAcrossAControllerFailover(t *testing.T) {
	dir, err := sinktest.OpshubBinaries()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "opshub")
	c := kubetest.Start(t, kubetest.Options{})
	ctx := context.Background()
	hook, hookSrv := newReceiver(t)
	k := startDrivenWeb(t, c)
	// Each leader gives the releases it starts its own deadline: long
	// enough on controller-a for the failover, short on controller-b for
	// a release its successor must fail and roll back.
	configWith := func(deadline string) func(listen string) string {
		return func(listen string) string {
			return strings.Replace(releaseConfig(t, c, listen, hookSrv.URL), "progressDeadline: 8s", "progressDeadline: "+deadline, 1)
		}
	}
	configFor := configWith("50s")
	a := startControllerProcessWith(t, "controller-a", configFor)
	sinktest.Eventually(t, waitTimeout, "controller-a leads", func() error {
		if got := readyz(a.url); got != "ok: leading" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
	b := startControllerProcessWith(t, "controller-b", configWith("12s"))
	sinktest.Eventually(t, waitTimeout, "controller-b follows", func() error {
		if got := readyz(b.url); got != "ok: following controller-a" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
	apiA, _ := client.New(a.url, "")
	apiB, _ := client.New(b.url, "")
	sinktest.Eventually(t, waitTimeout, "controller-a recorded revision 1", func() error {
		rels, err := apiA.Releases(ctx, "shop", "web")
		if err != nil || len(rels) != 1 {
			return fmt.Errorf("%d releases, %v", len(rels), err)
		}
		return nil
	})

	k.hold("registry.example/web:2", true)
	out, err := exec.Command(bin, "--server", a.url, "deploy", "shop/web", "--image", "registry.example/web:2", "--container", "web", "--wait=false").CombinedOutput()
	if err != nil {
		t.Fatalf("opshub deploy: %v\n%s", err, out)
	}
	t.Logf("opshub deploy: %s", out)
	sinktest.Eventually(t, waitTimeout, "the rollout waits on an unready pod of revision 2", func() error {
		rels, err := apiA.Releases(ctx, "shop", "web")
		if err != nil {
			return err
		}
		if r := rels[0]; r.Revision != 2 || r.State != model.ReleaseProgressing || r.Progress.Updated == 0 || !strings.Contains(r.Progress.Waiting, "readiness probe failed") {
			return fmt.Errorf("newest %d %s %+v", r.Revision, r.State, r.Progress)
		}
		return nil
	})
	status, err := exec.Command(bin, "--server", a.url, "status", "shop/web").CombinedOutput()
	if err != nil {
		t.Fatalf("opshub status: %v\n%s", err, status)
	}
	if !strings.Contains(string(status), "Release: revision 1 (external") || !strings.Contains(string(status), "Rollout in progress: revision 2") {
		t.Errorf("opshub status shows no current revision and rollout:\n%s", status)
	}
	killed := time.Now()
	a.Signal(t, syscall.SIGKILL)
	_ = a.Wait(t, waitTimeout)
	sinktest.Eventually(t, waitTimeout, "controller-b leads", func() error {
		if got := readyz(b.url); got != "ok: leading" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
	t.Logf("controller-b leads %s after controller-a was killed", time.Since(killed).Round(100*time.Millisecond))
	rels := releasesOf(t, apiB, "shop", "web")
	if len(rels) != 2 || rels[0].Revision != 2 || rels[0].State != model.ReleaseProgressing {
		t.Fatalf("the new leader's history: %+v", rels)
	}

	k.hold("registry.example/web:2", false)
	rel, _ := releaseEnds(t, apiB, 2)
	if rel.State != model.ReleaseSucceeded || rel.PlatformRevision != 2 {
		t.Errorf("revision 2 under the new leader: %s (%s), platform revision %d", rel.State, rel.Reason, rel.PlatformRevision)
	}
	waitImages(t, c, "registry.example/web:2", 3)
	if rels := releasesOf(t, apiB, "shop", "web"); len(rels) != 2 {
		t.Errorf("history after the failover has %d releases, want 2: %+v", len(rels), rels)
	}
	sinktest.Eventually(t, waitTimeout, "deploy.succeeded notified by the new leader", func() error {
		if n := len(hook.eventsNamed(model.EventDeploySucceeded)); n != 1 {
			return fmt.Errorf("%d deploy.succeeded", n)
		}
		return nil
	})

	t.Run("opshub rollback on the new leader", func(t *testing.T) {
		out, err := exec.Command(bin, "--server", b.url, "rollback", "shop/web", "--wait", "--timeout", "60s").CombinedOutput()
		t.Logf("opshub rollback: %s", out)
		if err != nil {
			t.Fatalf("opshub rollback: %v", err)
		}
		waitImages(t, c, "registry.example/web:1", 3)
		if r := releasesOf(t, apiB, "shop", "web")[0]; r.Revision != 3 || r.State != model.ReleaseSucceeded || r.RollbackOf != 1 {
			t.Errorf("newest release %+v", r)
		}
		table, err := exec.Command(bin, "--server", b.url, "releases", "shop/web").CombinedOutput()
		if err != nil {
			t.Fatalf("opshub releases: %v\n%s", err, table)
		}
		lines := strings.Split(strings.TrimSpace(string(table)), "\n")
		if len(lines) != 4 || !strings.Contains(lines[0], "IMAGE") || !strings.Contains(lines[2], "registry.example/web:2") || !strings.Contains(lines[1], "rollback (loopback) → 1") {
			t.Errorf("opshub releases:\n%s", table)
		}
	})

	t.Run("a release whose leader was killed fails at its deadline under the next one and is rolled back", func(t *testing.T) {
		c3 := startControllerProcessWith(t, "controller-c", configFor)
		sinktest.Eventually(t, waitTimeout, "controller-c follows", func() error {
			if got := readyz(c3.url); got != "ok: following controller-b" {
				return fmt.Errorf("readyz: %s", got)
			}
			return nil
		})
		rel, err := apiB.Deploy(ctx, "shop", "web", client.DeployRequest{Image: "registry.example/web:broken"})
		if err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "the broken rollout is under way", func() error {
			r := releasesOf(t, apiB, "shop", "web")[0]
			if r.Revision != rel.Revision || r.Progress.Updated == 0 {
				return fmt.Errorf("newest %d %s %+v", r.Revision, r.State, r.Progress)
			}
			return nil
		})
		b.Signal(t, syscall.SIGKILL)
		_ = b.Wait(t, waitTimeout)
		sinktest.Eventually(t, waitTimeout, "controller-c leads", func() error {
			if got := readyz(c3.url); got != "ok: leading" {
				return fmt.Errorf("readyz: %s", got)
			}
			return nil
		})
		apiC, _ := client.New(c3.url, "")
		failed, _ := releaseEnds(t, apiC, rel.Revision)
		if failed.State != model.ReleaseRolledBack || !strings.Contains(failed.Reason, "progress deadline exceeded (12s)") {
			t.Errorf("revision %d under controller-c: %s, %q", rel.Revision, failed.State, failed.Reason)
		}
		back, _ := releaseEnds(t, apiC, rel.Revision+1)
		if back.State != model.ReleaseSucceeded || back.Trigger.Kind != model.TriggerAutoRollback || back.RollbackOf != rel.Revision-1 {
			t.Errorf("the rollback under controller-c: %+v", back)
		}
		waitImages(t, c, "registry.example/web:1", 3)
	})
}
