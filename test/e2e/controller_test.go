//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/opshub/opshub/alerting/notify/webhook"
	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/store"
	"github.com/opshub/opshub/store/kubestate"
)

// webhookSecret signs the notifications the receiver checks.
var webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("e2e-controller-webhook-secret"))

// receiver is a webhook destination that checks every request's Standard
// Webhooks signature and records the accepted notifications by webhook-id.
// While it refuses, it answers 503, as a destination that is down.
type receiver struct {
	t   *testing.T
	key []byte

	mu       sync.Mutex
	refusing bool
	accepted map[string][]model.Event // by webhook-id, every accepted request
	refused  map[string]int           // by service: refused attempts
	badSigs  int
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	key, err := webhook.SecretKey(webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, key: key, accepted: map[string][]model.Event{}, refused: map[string]int{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	defer r.mu.Unlock()
	if !webhook.Verify(r.key, id, req.Header.Get("webhook-timestamp"), body, req.Header.Get("webhook-signature")) {
		r.badSigs++
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	var ev model.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		r.t.Errorf("notification %s is not an event: %v", id, err)
	}
	if r.refusing {
		r.refused[ev.Service]++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	r.accepted[id] = append(r.accepted[id], ev)
}

func (r *receiver) refuse(v bool) {
	r.mu.Lock()
	r.refusing = v
	r.mu.Unlock()
}

// notified returns the services with an accepted notification of event,
// one entry per distinct webhook-id, sorted; and how many requests repeated
// an id already accepted.
func (r *receiver) notified(event string) (services []string, repeats int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, evs := range r.accepted {
		if evs[0].Name == event {
			services = append(services, evs[0].Service)
		}
		repeats += len(evs) - 1
	}
	slices.Sort(services)
	return services, repeats
}

func (r *receiver) refusedFor(service string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused[service]
}

// clusterConfig is the start of a controller's config on the test cluster:
// a data directory of its own, the listen address and fast leader election.
// Callers add their sections.
func clusterConfig(t *testing.T, c *kubetest.Cluster, listen string) string {
	return fmt.Sprintf(`
dataDir: %s
server:
  listen: %s
platform:
  kind: kubernetes
  kubeconfig: %s
  namespace: opshub
  leaderElection: {leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}
`, t.TempDir(), listen, c.Kubeconfig)
}

// startControllerCluster starts a control plane with the namespaces the
// controller tests use: opshub, the controller's own (platform.namespace in
// clusterConfig), and shop for the workloads.
func startControllerCluster(t *testing.T) *kubetest.Cluster {
	t.Helper()
	c := kubetest.Start(t, kubetest.Options{})
	c.Namespace(t, "opshub")
	c.Namespace(t, "shop")
	return c
}

// controllerConfig is a controller's config on the test cluster: fast
// leader election, a webhook for crash loops that retries quickly and is
// never disabled.
func controllerConfig(t *testing.T, c *kubetest.Cluster, listen, hookURL string) string {
	return clusterConfig(t, c, listen) + fmt.Sprintf(`notifications:
  retry: {initialBackoff: 200ms, maxBackoff: 1s, disableAfter: 1000}
  integrations:
    - name: hook
      type: webhook
      url: %s
      secret: %s
      events: [container.crashloop]
`, hookURL, webhookSecret)
}

// controllerRun is `opshub controller` running in-process for a test.
type controllerRun struct {
	API  string // the controller's API on loopback
	Done chan error
	Stop context.CancelFunc
	// Ended is set by a test that has read Done itself (a controller it
	// expects to stop with an error).
	Ended bool
}

// runController runs the controller as controller-0 on a loopback
// listener with the config configFor gives for that address. When the test
// ends it is stopped and, unless Ended, must return no error. It returns
// once the controller leads.
func runController(t *testing.T, configFor func(listen string) string, opts app.ControllerOptions) *controllerRun {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := app.ParseConfig([]byte(configFor(ln.Addr().String())), "controller.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	if opts.Identity == "" {
		opts.Identity = "controller-0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &controllerRun{API: "http://" + ln.Addr().String(), Done: make(chan error, 1), Stop: stop}
	go func() { r.Done <- app.RunController(ctx, cfg, opts) }()
	t.Cleanup(func() {
		stop()
		if r.Ended {
			return
		}
		if err := <-r.Done; err != nil {
			t.Errorf("RunController: %v", err)
		}
	})
	sinktest.Eventually(t, waitTimeout, "the controller leads", func() error {
		if got := readyz(r.API); got != "ok: leading" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
	return r
}

// drivenDeployment creates a one-pod Deployment whose pod status the test
// writes, and returns the pod's name.
func drivenDeployment(t *testing.T, c *kubetest.Cluster, ns, name string) string {
	t.Helper()
	ctx := context.Background()
	d := deployment(name, 1, map[string]string{kubetest.DrivenAnnotation: "true"})
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod string
	sinktest.Eventually(t, waitTimeout, name+"'s pod exists", func() error {
		pods, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return err
		}
		if len(pods.Items) != 1 {
			return fmt.Errorf("%d pods", len(pods.Items))
		}
		pod = pods.Items[0].Name
		return nil
	})
	return pod
}

// crashLoop writes three crashes of the pod, as a kubelet reports a
// container that keeps failing.
func crashLoop(t *testing.T, c *kubetest.Cluster, ns, pod string) {
	t.Helper()
	base := time.Now().UTC().Truncate(time.Second)
	for n := int32(1); n <= 3; n++ {
		if err := crash(context.Background(), c, ns, pod, n, base.Add(time.Duration(n)*time.Second), "Error", 1); err != nil {
			t.Fatalf("crash %d of %s: %v", n, pod, err)
		}
	}
}

func readyz(url string) string {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func TestControllerScalesAndNotifiesACrashLoopOnce(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	hook, hookSrv := newReceiver(t)

	run := runController(t, func(listen string) string { return controllerConfig(t, c, listen, hookSrv.URL) },
		app.ControllerOptions{MetricsInterval: time.Second})
	api := run.API
	t.Cleanup(func() {
		if t.Failed() && !run.Ended {
			for _, path := range []string{"/api/v1/alerts", "/api/v1/deliveries"} {
				if resp, err := http.Get(api + path); err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Logf("GET %s: %s", path, b)
				}
			}
		}
	})
	cl, err := client.New(api, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a Deployment is scaled through its scale subresource", func(t *testing.T) {
		if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, deployment("web", 2, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "shop/web runs 2 instances", func() error {
			svc, err := cl.Service(ctx, "shop", "web")
			if err != nil {
				return err
			}
			if len(svc.Instances) != 2 {
				return fmt.Errorf("%d instances", len(svc.Instances))
			}
			return nil
		})
		res, err := cl.Scale(ctx, "shop", "web", 3)
		if err != nil {
			t.Fatal(err)
		}
		if res.Previous != 2 || res.Replicas != 3 || res.Warning != "" {
			t.Errorf("scale answered %+v, want 2 → 3 without a warning", res)
		}
		d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 3 {
			t.Errorf("spec.replicas = %d, want 3", *d.Spec.Replicas)
		}
		var viaScale bool
		for _, mf := range d.ManagedFields {
			viaScale = viaScale || mf.Manager == "opshub" && mf.Subresource == "scale"
		}
		if !viaScale {
			t.Errorf("spec.replicas was not written through deployments/scale: %+v", d.ManagedFields)
		}
		sinktest.Eventually(t, waitTimeout, "shop/web runs 3 instances", func() error {
			svc, err := cl.Service(ctx, "shop", "web")
			if err != nil {
				return err
			}
			if len(svc.Instances) != 3 {
				return fmt.Errorf("%d instances", len(svc.Instances))
			}
			return nil
		})
	})

	t.Run("a crash-looping pod is notified once, signed", func(t *testing.T) {
		pod := drivenDeployment(t, c, "shop", "worker")
		sinktest.Eventually(t, waitTimeout, "the controller sees the worker", func() error {
			_, err := cl.Service(ctx, "shop", "worker")
			return err
		})
		crashLoop(t, c, "shop", pod)
		sinktest.Eventually(t, waitTimeout, "a crash-loop notification", func() error {
			if got, _ := hook.notified(model.EventContainerCrashLoop); len(got) == 0 {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		// One more crash of the same episode must not notify again. It is
		// written, and the controller is given the time it needs to see it
		// (its view of the instance shows the fourth restart, and events
		// follow the same cache within milliseconds), plus a margin.
		if err := crash(ctx, c, "shop", pod, 4, time.Now().UTC(), "Error", 1); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "the controller sees the fourth restart", func() error {
			svc, err := cl.Service(ctx, "shop", "worker")
			if err != nil || len(svc.Instances) != 1 || svc.Instances[0].Restarts != 4 {
				return fmt.Errorf("service %+v, err %v", svc, err)
			}
			return nil
		})
		time.Sleep(2 * time.Second) // the absence of a second notification needs a window
		got, repeats := hook.notified(model.EventContainerCrashLoop)
		if !slices.Equal(got, []string{"worker"}) || repeats != 0 {
			t.Errorf("crash-loop notifications for %q with %d repeats, want exactly one for worker", got, repeats)
		}
		if hook.badSigs != 0 {
			t.Errorf("%d requests with a bad signature", hook.badSigs)
		}
	})

	t.Run("a leader whose Lease is taken stops with an error", func(t *testing.T) {
		run.Ended = true
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			lease, err := c.Client.CoordinationV1().Leases("opshub").Get(ctx, app.ControllerLease, metav1.GetOptions{})
			if err != nil {
				return err
			}
			lease = lease.DeepCopy()
			intruder, seconds, now := "intruder", int32(60), metav1.NewMicroTime(time.Now())
			lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &intruder, &seconds
			lease.Spec.AcquireTime, lease.Spec.RenewTime = &now, &now
			_, err = c.Client.CoordinationV1().Leases("opshub").Update(ctx, lease, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-run.Done:
			if !errors.Is(err, kubernetes.ErrLeadershipLost) {
				t.Errorf("RunController = %v, want ErrLeadershipLost (the process exits 1)", err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("the controller still runs %s after its Lease was taken", waitTimeout)
		}
		if _, err := http.Get(api + "/healthz"); err == nil {
			t.Error("the API still answers after the controller stopped")
		}
	})
}

// controllerProcess is `opshub controller` running as its own process.
type controllerProcess struct {
	*sinktest.Opshub
	name string
	url  string
	// config is its config file.
	config string
}

func startControllerProcess(t *testing.T, c *kubetest.Cluster, name, hookURL string) *controllerProcess {
	t.Helper()
	return startControllerProcessWith(t, name, func(listen string) string { return controllerConfig(t, c, listen, hookURL) })
}

// startControllerProcessWith starts `opshub controller` as its own process
// named name, with the config configFor gives for its API address.
func startControllerProcessWith(t *testing.T, name string, configFor func(listen string) string) *controllerProcess {
	t.Helper()
	addr := sinktest.FreeAddr(t)
	cfgFile := filepath.Join(t.TempDir(), "controller.yaml")
	if err := os.WriteFile(cfgFile, []byte(configFor(addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	return &controllerProcess{
		Opshub: sinktest.StartOpshub(t, []string{"controller", "-c", cfgFile}, "POD_NAME="+name, "POD_NAMESPACE=opshub"),
		name:   name,
		url:    "http://" + addr,
		config: cfgFile,
	}
}

// pendingDeliveries lists the services whose notifications wait in a
// controller's outbox.
func pendingDeliveries(api string) ([]string, error) {
	resp, err := http.Get(api + "/api/v1/deliveries")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Deliveries []struct {
			State   string      `json:"state"`
			Payload model.Event `json:"payload"`
		} `json:"deliveries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	var out []string
	for _, d := range body.Deliveries {
		if d.State == "pending" {
			out = append(out, d.Payload.Service)
		}
	}
	return out, nil
}

func TestControllerFailoverDeliversEveryNotificationOnce(t *testing.T) {
	bin, err := sinktest.OpshubBinaries()
	if err != nil {
		t.Fatal(err)
	}
	c := startControllerCluster(t)
	ctx := context.Background()
	hook, hookSrv := newReceiver(t)
	pods := map[string]string{}
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		pods[s] = drivenDeployment(t, c, "shop", s)
	}
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, deployment("web", 1, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	a := startControllerProcess(t, c, "controller-a", hookSrv.URL)
	sinktest.Eventually(t, waitTimeout, "controller-a leads", func() error {
		if got := readyz(a.url); got != "ok: leading" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
	b := startControllerProcess(t, c, "controller-b", hookSrv.URL)
	sinktest.Eventually(t, waitTimeout, "controller-b follows", func() error {
		if got := readyz(b.url); got != "ok: following controller-a" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})

	t.Run("SIGHUP reloads the config and the controller keeps running", func(t *testing.T) {
		// A group added: the leader applies groups; a follower reads them
		// again when it leads, so it names nothing as needing a restart.
		cfg, err := os.ReadFile(b.config)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(b.config, append(cfg, groupsYAML("s3cret", "info", false)...), 0o600); err != nil {
			t.Fatal(err)
		}
		b.Signal(t, syscall.SIGHUP)
		if exited, err := b.ExitsWithin(2 * time.Second); exited {
			t.Fatalf("controller-b ended on SIGHUP: %v", err)
		}
		if got := readyz(b.url); got != "ok: following controller-a" {
			t.Errorf("after SIGHUP readyz: %s", got)
		}
		sinktest.Eventually(t, waitTimeout, "controller-b's reload logged", func() error {
			for line := range strings.Lines(b.Output()) {
				if strings.Contains(line, `msg="config reloaded"`) {
					if strings.Contains(line, "restart_required") {
						t.Errorf("a follower names a restart: %s", line)
					}
					return nil
				}
			}
			return errors.New("no reload in its log yet")
		})
	})

	t.Run("a follower's API names the leader", func(t *testing.T) {
		resp, err := http.Get(b.url + "/api/v1/services")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Error, Leader string }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		if resp.StatusCode != http.StatusServiceUnavailable || body.Leader != "controller-a" {
			t.Errorf("answered %d %+v, want 503 naming controller-a", resp.StatusCode, body)
		}
	})

	t.Run("the leader serves the web UI at /", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "the web UI on the leader", func() error {
			resp, err := http.Get(a.url + "/services/shop/web/logs")
			if err != nil {
				return err
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), `<div id="app">`) {
				return fmt.Errorf("answered %d %.200s, want the web UI", resp.StatusCode, body)
			}
			return nil
		})
	})

	t.Run("opshub scale changes the Deployment's replicas", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "the leader lists shop/web", func() error {
			resp, err := http.Get(a.url + "/api/v1/services/shop/web")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		})
		out, err := exec.Command(filepath.Join(bin, "opshub"), "--server", a.url, "scale", "shop/web", "--replicas", "2").CombinedOutput()
		if err != nil {
			t.Fatalf("opshub scale: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "shop/web scaled from 1 to 2 replicas") {
			t.Errorf("opshub scale printed %q", out)
		}
		d, err := c.Client.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 2 {
			t.Errorf("spec.replicas = %d, want 2", *d.Spec.Replicas)
		}
	})

	waitNotified := func(t *testing.T, want ...string) {
		t.Helper()
		sinktest.Eventually(t, waitTimeout, fmt.Sprintf("crash-loop notifications for %v", want), func() error {
			got, _ := hook.notified(model.EventContainerCrashLoop)
			for _, s := range want {
				if !slices.Contains(got, s) {
					return fmt.Errorf("notified %v", got)
				}
			}
			return nil
		})
	}

	// s1 is delivered by the first leader.
	crashLoop(t, c, "shop", pods["s1"])
	waitNotified(t, "s1")

	// s2 and s3 crash-loop while the destination is down; the leader is
	// killed while it retries s2 and s3 waits behind it. The successor
	// finds them in the restored outbox, or (when the kill came before a
	// commit reached the replica) notices them again because they are still
	// crash-looping when it takes over.
	hook.refuse(true)
	crashLoop(t, c, "shop", pods["s2"])
	crashLoop(t, c, "shop", pods["s3"])
	// The leader delivers to one destination in order, so s3 waits in the
	// outbox behind s2, which is being retried.
	sinktest.Eventually(t, waitTimeout, "s2 is being retried and s3 waits in the outbox", func() error {
		pending, err := pendingDeliveries(a.url)
		if err != nil {
			return err
		}
		if hook.refusedFor("s2") == 0 || !slices.Contains(pending, "s2") || !slices.Contains(pending, "s3") {
			return fmt.Errorf("refused s2 %d times; pending %v", hook.refusedFor("s2"), pending)
		}
		return nil
	})
	killed := time.Now()
	a.Signal(t, syscall.SIGKILL)
	_ = a.Wait(t, waitTimeout)
	hook.refuse(false)

	sinktest.Eventually(t, waitTimeout, "controller-b leads", func() error {
		if got := readyz(b.url); got != "ok: leading" {
			return fmt.Errorf("readyz: %s", got)
		}
		return nil
	})
	t.Logf("controller-b leads %s after controller-a was killed", time.Since(killed).Round(100*time.Millisecond))
	waitNotified(t, "s1", "s2", "s3")

	// s4 crash-loops under the new leader.
	crashLoop(t, c, "shop", pods["s4"])
	waitNotified(t, "s1", "s2", "s3", "s4")

	got, repeats := hook.notified(model.EventContainerCrashLoop)
	if !slices.Equal(got, []string{"s1", "s2", "s3", "s4"}) {
		t.Errorf("crash-loop notifications by webhook-id for %q, want exactly one each for s1..s4", got)
	}
	// A repeat can only be the same notification (same webhook-id) sent
	// again by the new leader because the old one died between the
	// destination's answer and committing it; receivers drop it by id.
	t.Logf("%d repeated deliveries of an id already accepted", repeats)
	if hook.badSigs != 0 {
		t.Errorf("%d requests with a bad signature", hook.badSigs)
	}

	// A graceful stop of the leader exits 0 and releases the Lease.
	b.Signal(t, syscall.SIGTERM)
	if err := b.Wait(t, waitTimeout); err != nil {
		t.Errorf("controller-b exited with %v after SIGTERM, want 0", err)
	}
	lease, err := c.Client.CoordinationV1().Leases("opshub").Get(ctx, app.ControllerLease, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease still held by %q after the leader stopped", *h)
	}
}

// startAdvertisedCollector runs `opshub collector` in-process for
// kubetest.NodeName, advertising its loopback address on its Lease (pod IPs
// are fake), and returns the root where the test lays out log files.
func startAdvertisedCollector(t *testing.T, c *kubetest.Cluster, kubelet *kubetest.Kubelet) string {
	t.Helper()
	dir := t.TempDir()
	logRoot := filepath.Join(dir, "pods")
	if err := os.MkdirAll(logRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := app.ParseConfig(fmt.Appendf(nil, `
dataDir: %s
platform:
  kind: kubernetes
  kubeconfig: %s
  nodeName: %s
  namespace: opshub
collector:
  paths: [%s]
  advertise: http://%s
  kubelet: {url: %q, caFile: %s, tokenFile: %s}
`, filepath.Join(dir, "state"), c.Kubeconfig, kubetest.NodeName, logRoot, ln.Addr(), kubelet.URL, kubelet.CAFile, kubelet.TokenFile), "collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"POD_NAMESPACE": "opshub", "POD_NAME": "opshub-collector-e2e", "POD_IP": "10.0.0.7"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunCollector(ctx, cfg, app.CollectorOptions{
			Logger:          slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Listener:        ln,
			MetricsInterval: 500 * time.Millisecond,
			Getenv:          func(k string) string { return env[k] },
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	return logRoot
}

func TestControllerReadsLogsAndMetricsThroughTheCollector(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	kubelet := kubetest.StartKubelet(t)
	logRoot := startAdvertisedCollector(t, c, kubelet)

	api := runController(t, func(listen string) string { return controllerConfig(t, c, listen, "http://127.0.0.1:9/unused") },
		app.ControllerOptions{MetricsInterval: 500 * time.Millisecond}).API
	cl, err := client.New(api, "")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, deployment("web", 1, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := runningPods(t, c, "shop", "app=web", 1)[0]
	kubelet.SetPods(kubetest.KubeletPod{
		Namespace: "shop", Name: pod.Name, UID: string(pod.UID),
		Containers: []kubetest.KubeletContainer{{Name: "web", CPUSeconds: 3, MemoryBytes: 120 << 20, MemoryLimitBytes: 1 << 30}},
	})
	logDir := filepath.Join(logRoot, "shop_"+pod.Name+"_"+string(pod.UID), "web")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Add(-time.Minute)
	var lines strings.Builder
	for i := range 5 {
		fmt.Fprintf(&lines, "%s stdout F request %d served\n", base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
	}
	if err := os.WriteFile(filepath.Join(logDir, "0.log"), []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("the controller's log API answers from the collector of the pod's node", func(t *testing.T) {
		var got []string
		sinktest.Eventually(t, waitTimeout, "the service's lines through the controller", func() error {
			recs, err := cl.Logs(ctx, client.LogQuery{Project: "shop", Service: "web", Limit: 3})
			if err != nil {
				return err
			}
			got = got[:0]
			for _, r := range recs {
				got = append(got, r.Log)
			}
			if len(got) != 3 {
				return fmt.Errorf("lines %q", got)
			}
			return nil
		})
		if want := []string{"request 4 served", "request 3 served", "request 2 served"}; !slices.Equal(got, want) {
			t.Errorf("lines %q, want the newest three, newest first: %q", got, want)
		}
	})
	t.Run("the controller's metrics come from the collector's samples", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "memory of shop/web through the controller", func() error {
			series, err := cl.Metrics(ctx, client.MetricsQuery{Project: "shop", Service: "web", Types: []model.MetricType{model.MetricMemory}, Since: 10 * time.Minute})
			if err != nil {
				return err
			}
			for _, s := range series {
				if s.Instance == pod.Name && len(s.Points) > 0 && s.Points[len(s.Points)-1].Value == 120<<20 {
					return nil
				}
			}
			return fmt.Errorf("series %+v", series)
		})
	})
}

// A leader that has not noticed it lost the Lease (a long GC pause, a
// partition) is fenced by its state: the first write that finds another
// controller's state in the API makes it stop, instead of delivering what
// the new leader now owns.
func TestControllerStepsDownWhenAnotherControllerWroteItsState(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	_, hookSrv := newReceiver(t)
	run := runController(t, func(listen string) string { return controllerConfig(t, c, listen, hookSrv.URL) },
		app.ControllerOptions{MetricsInterval: time.Second})
	pod := drivenDeployment(t, c, "shop", "worker")

	// Another controller loads the state and writes it, as a new leader
	// does when it takes over.
	other, err := store.OpenReplicated(ctx, filepath.Join(t.TempDir(), "state.db"), kubestate.New(c.Client, "opshub", kubestate.DefaultName))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := store.NewBucket[string](other, "takeover").Put("leader", "the other one"); err != nil {
		t.Fatal(err)
	}
	// The crash loop makes alerting write: that write meets the other state.
	crashLoop(t, c, "shop", pod)
	select {
	case err := <-run.Done:
		run.Ended = true
		if !errors.Is(err, kubestate.ErrConflict) {
			t.Errorf("RunController = %v, want it to step down with kubestate.ErrConflict", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("the controller still runs %s after another wrote its state", waitTimeout)
	}
}

// A PersistentVolumeClaim the node's kubelet reports at 92 % reaches the
// controller through the collector's samples and is notified as
// volume.usage for the service that mounts it, with the threshold passed.
func TestControllerNotifiesAClaimAt92Percent(t *testing.T) {
	c := startControllerCluster(t)
	kubelet := kubetest.StartKubelet(t)
	startAdvertisedCollector(t, c, kubelet)
	hook, hookSrv := newReceiver(t)
	runController(t, func(listen string) string {
		return strings.Replace(controllerConfig(t, c, listen, hookSrv.URL), "events: [container.crashloop]", "events: [volume.usage]", 1)
	}, app.ControllerOptions{MetricsInterval: 500 * time.Millisecond, AlertTick: 500 * time.Millisecond})

	startDBWithClaimAt92(t, c, kubelet, kubetest.KubeletContainer{Name: "db", CPUSeconds: 1, MemoryBytes: 100 << 20, MemoryLimitBytes: 1 << 30})
	sinktest.Eventually(t, waitTimeout, "a volume.usage notification for shop/db", func() error {
		if got, _ := hook.notified(model.EventVolumeUsage); !slices.Equal(got, []string{"db"}) {
			return fmt.Errorf("volume.usage notified for %q", got)
		}
		return nil
	})
	hook.mu.Lock()
	defer hook.mu.Unlock()
	for _, evs := range hook.accepted {
		if e := evs[0]; e.Name == model.EventVolumeUsage {
			t.Logf("notified: %s (data %v)", e.Summary, e.Data)
			if !strings.Contains(e.Summary, "90") && !strings.Contains(fmt.Sprint(e.Data), "90") {
				t.Errorf("the notification does not name the 90 %% threshold: %q %v", e.Summary, e.Data)
			}
		}
	}
}
