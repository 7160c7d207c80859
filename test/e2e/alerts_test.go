//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// eventsNamed returns the accepted notifications of one event, one per
// webhook-id.
func (r *receiver) eventsNamed(event string) []model.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []model.Event
	for _, evs := range r.accepted {
		if evs[0].Name == event {
			out = append(out, evs[0])
		}
	}
	return out
}

// TestControllerNotifiesCrashLoopBackOffAndEvictions runs the controller
// with a crash-loop rule that restarts alone would not meet for a while
// (10 restarts): a pod in CrashLoopBackOff is notified at its first
// back-off, once for the whole episode, with the kubelet's words; an
// evicted pod is notified as container.eviction with the eviction message.
func TestControllerNotifiesCrashLoopBackOffAndEvictions(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	hook, hookSrv := newReceiver(t)
	api := runController(t, func(listen string) string {
		return clusterConfig(t, c, listen) + fmt.Sprintf(`notifications:
  retry: {initialBackoff: 200ms, maxBackoff: 1s}
  integrations:
    - {name: hook, type: webhook, url: %q, secret: %q, events: [container.crashloop, container.eviction]}
alerts:
  throttle: {default: 15m}
  crashLoop: {restarts: 10, window: 10m}
`, hookSrv.URL, webhookSecret)
	}, app.ControllerOptions{MetricsInterval: time.Second}).API
	cl, err := client.New(api, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("CrashLoopBackOff is one crash-loop notification per episode", func(t *testing.T) {
		pod := drivenDeployment(t, c, "shop", "worker")
		base := time.Now().UTC().Truncate(time.Second)
		if err := crash(ctx, c, "shop", pod, 1, base, "Error", 1); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "the crash-loop notification", func() error {
			if n := len(hook.eventsNamed(model.EventContainerCrashLoop)); n != 1 {
				return fmt.Errorf("%d notifications", n)
			}
			return nil
		})
		ev := hook.eventsNamed(model.EventContainerCrashLoop)[0]
		if ev.Instance != pod || ev.Data["reason"] != "CrashLoopBackOff" || ev.Data["backoff"] != "10s" {
			t.Errorf("notification %+v, want the pod's CrashLoopBackOff with its 10s back-off", ev)
		}
		// Two more crashes of the same episode: nothing new.
		for n := int32(2); n <= 3; n++ {
			if err := crash(ctx, c, "shop", pod, n, base.Add(time.Duration(n)*time.Second), "Error", 1); err != nil {
				t.Fatal(err)
			}
		}
		// Each crash is also a container.crash, which no integration takes:
		// once the later two are counted, the pipeline has seen the episode.
		sinktest.Eventually(t, waitTimeout, "the pipeline to process the later crashes", func() error {
			if n := metricValue(t, api, `opshub_alerting_events_total{outcome="throttled"}`); n < 2 {
				return fmt.Errorf("%g throttled events", n)
			}
			return nil
		})
		sinktest.Eventually(t, waitTimeout, "no pending deliveries", func() error {
			ds, _, err := cl.Deliveries(ctx)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if d.State == "pending" {
					return fmt.Errorf("delivery %s pending", d.ID)
				}
			}
			return nil
		})
		if n := len(hook.eventsNamed(model.EventContainerCrashLoop)); n != 1 {
			t.Errorf("%d crash-loop notifications for one episode, want 1", n)
		}
	})

	t.Run("an evicted pod is a container.eviction with the kubelet's message", func(t *testing.T) {
		pod := drivenDeployment(t, c, "shop", "api")
		const message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi."
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := c.Client.CoreV1().Pods("shop").Get(ctx, pod, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: message,
				Conditions: []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
					Reason: "TerminationByKubelet", Message: message, LastTransitionTime: metav1.Now()}}}
			_, err = c.Client.CoreV1().Pods("shop").UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "the eviction notification", func() error {
			if n := len(hook.eventsNamed(model.EventContainerEviction)); n != 1 {
				return fmt.Errorf("%d notifications", n)
			}
			return nil
		})
		ev := hook.eventsNamed(model.EventContainerEviction)[0]
		if ev.Instance != pod || ev.Service != "api" || ev.Data["message"] != message {
			t.Errorf("notification %+v, want %s's eviction with the kubelet's message", ev, pod)
		}
	})
}

// metricValue reads one series from the API's /metrics; 0 when absent.
func metricValue(t *testing.T, api, series string) float64 {
	t.Helper()
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v
		}
	}
	return 0
}
