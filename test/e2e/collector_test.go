//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/sinks"
)

// requestLog records every request a collector sends to the API server, as
// "METHOD path" with " (watch)" for watches.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		what := r.Method + " " + r.URL.Path
		if fs := r.URL.Query().Get("fieldSelector"); fs != "" {
			what += "?fieldSelector=" + fs
		}
		if r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1" {
			what += " (watch)"
		}
		l.mu.Lock()
		l.reqs = append(l.reqs, what)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

// collectorNode is a collector running in-process for the simulated node.
type collectorNode struct {
	API      string // the node API on loopback
	LogRoot  string // where the test lays out the kubelet's log files
	SinkFile string // the file sink's output
	Requests *requestLog
	// ConfigFile is the file the collector reloads; Config its text.
	ConfigFile, Config string
}

// startCollector runs `opshub collector` in-process for kubetest.NodeName,
// reading the fixture kubelet, tailing LogRoot into a file sink, with its
// Lease in namespace opshub.
func startCollector(t *testing.T, c *kubetest.Cluster, kubelet *kubetest.Kubelet) *collectorNode {
	t.Helper()
	dir := t.TempDir()
	n := &collectorNode{LogRoot: filepath.Join(dir, "pods"), SinkFile: filepath.Join(dir, "out.ndjson"), Requests: &requestLog{}}
	if err := os.MkdirAll(n.LogRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	n.Config = fmt.Sprintf(`
dataDir: %s
platform:
  kind: kubernetes
  kubeconfig: %s
  nodeName: %s
collector:
  paths: [%s]
  kubelet: {url: %q, caFile: %s, tokenFile: %s}
sinks:
  - {name: out, type: file, path: %s, encoding: json, batch: {timeout: 50ms}}
`, filepath.Join(dir, "state"), c.Kubeconfig, kubetest.NodeName, n.LogRoot, kubelet.URL, kubelet.CAFile, kubelet.TokenFile, n.SinkFile)
	n.ConfigFile = filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(n.ConfigFile, []byte(n.Config), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := app.LoadConfig(n.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.API = "http://" + ln.Addr().String()
	env := map[string]string{"POD_NAMESPACE": "opshub", "POD_NAME": "opshub-collector-x7k2p", "POD_IP": "10.0.0.7"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.RunCollector(ctx, cfg, app.CollectorOptions{
			Logger:          slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Listener:        ln,
			MetricsInterval: 500 * time.Millisecond,
			Getenv:          func(k string) string { return env[k] },
			WrapTransport:   n.Requests.wrap,
			ConfigPath:      n.ConfigFile,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("collector: %v", err)
		}
	})
	sinktest.Eventually(t, waitTimeout, "collector ready", func() error {
		resp, err := http.Get(n.API + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %s", resp.Status)
		}
		return nil
	})
	return n
}

// writeLog appends CRI lines to the pod's container log file <n>.log in the
// kubelet's layout.
func (n *collectorNode) writeLog(t *testing.T, pod *corev1.Pod, container string, run int, lines ...string) {
	t.Helper()
	dir := filepath.Join(n.LogRoot, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID), container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.log", run)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), l)
	}
}

// delivered reads the file sink's records.
func (n *collectorNode) delivered(t *testing.T) []model.LogRecord {
	t.Helper()
	b, err := os.ReadFile(n.SinkFile)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []model.LogRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r model.LogRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("sink line %q: %v", sc.Text(), err)
		}
		if r.Labels[sinks.ValidationLabel] == "" {
			out = append(out, r)
		}
	}
	return out
}

// runningPods waits for want running pods of the selector and returns them.
func runningPods(t *testing.T, c *kubetest.Cluster, ns, selector string, want int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	sinktest.Eventually(t, waitTimeout, fmt.Sprintf("%d running pods %s", want, selector), func() error {
		list, err := c.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				pods = append(pods, p)
			}
		}
		if len(pods) != want {
			return fmt.Errorf("%d running", len(pods))
		}
		return nil
	})
	return pods
}

func TestCollectorDeliversPodLogsEnrichedFromTheAPI(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	n := startCollector(t, c, kubetest.StartKubelet(t))

	web := deployment("web", 2, nil)
	web.Spec.Template.Labels = map[string]string{"app": "web", "tier": "frontend", kubernetes.ProjectLabel: "payments"}
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := runningPods(t, c, "shop", "app=web", 2)
	for _, p := range pods {
		n.writeLog(t, &p, "web", 0, "GET / 200 from "+p.Name, "GET /cart 200 from "+p.Name)
	}

	t.Run("every line reaches the sink with the pod's service and labels", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "4 lines in the sink", func() error {
			if got := len(n.delivered(t)); got != 4 {
				return fmt.Errorf("%d lines", got)
			}
			return nil
		})
		byPod := map[string]corev1.Pod{}
		for _, p := range pods {
			byPod[p.Name] = p
		}
		for _, r := range n.delivered(t) {
			p, ok := byPod[r.Instance]
			if !ok || !strings.HasSuffix(r.Log, "from "+r.Instance) {
				t.Errorf("record of an unknown pod or line: %+v", r)
				continue
			}
			want := map[string]string{
				"app": "web", "tier": "frontend", "k8s.namespace.name": "shop", "k8s.pod.name": p.Name,
				"k8s.pod.uid": string(p.UID), "k8s.node.name": kubetest.NodeName,
			}
			for k, v := range want {
				if r.Labels[k] != v {
					t.Errorf("%s: label %s = %q, want %q (labels %v)", r.Instance, k, r.Labels[k], v, r.Labels)
				}
			}
			if r.Project != "payments" || r.Service != "web" || r.Container != "web" || r.Stream != "stdout" {
				t.Errorf("record %+v: want project payments, service web, container web, stdout", r)
			}
		}
	})

	t.Run("the node API answers log queries for the service", func(t *testing.T) {
		var got []model.LogRecord
		if code, err := getNodeJSON(n.API+"/api/v1/logs?project=payments&service=web&direction=forward", &got); err != nil || code != 200 {
			t.Fatalf("status %d: %v", code, err)
		}
		if len(got) != 4 || got[0].Labels["app"] != "web" {
			t.Errorf("query answered %d lines: %+v", len(got), got)
		}
	})

	t.Run("the collector keeps its Lease for the controller", func(t *testing.T) {
		sinktest.Eventually(t, waitTimeout, "lease", func() error {
			l, err := c.Client.CoordinationV1().Leases("opshub").Get(ctx, "opshub-collector-"+kubetest.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if u := l.Annotations["opshub.dev/url"]; u != "http://10.0.0.7:7421" {
				return fmt.Errorf("url annotation %q", u)
			}
			if l.Labels["opshub.dev/node"] != kubetest.NodeName || l.Labels["app.kubernetes.io/component"] != "collector" ||
				l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "opshub-collector-x7k2p" ||
				l.Spec.LeaseDurationSeconds == nil || *l.Spec.LeaseDurationSeconds != 30 || l.Spec.RenewTime == nil {
				return fmt.Errorf("lease %+v %+v", l.ObjectMeta.Labels, l.Spec)
			}
			return nil
		})
	})

	t.Run("a deleted pod's next file is still enriched", func(t *testing.T) {
		gone := pods[0]
		if err := c.Client.CoreV1().Pods("shop").Delete(ctx, gone.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		sinktest.Eventually(t, waitTimeout, "pod gone", func() error {
			_, err := c.Client.CoreV1().Pods("shop").Get(ctx, gone.Name, metav1.GetOptions{})
			if err == nil {
				return fmt.Errorf("%s still there", gone.Name)
			}
			return nil
		})
		n.writeLog(t, &gone, "web", 1, "last words of "+gone.Name)
		defer func() {
			// A reload adds a sink while the collector runs: it sends its
			// validation line and then the lines that follow.
			added := filepath.Join(filepath.Dir(n.SinkFile), "added.ndjson")
			text := n.Config + fmt.Sprintf("  - {name: added, type: file, path: %s, encoding: json, batch: {timeout: 50ms}}\n", added)
			if err := os.WriteFile(n.ConfigFile, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(n.API+"/api/v1/config/reload", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("reload: %s %s", resp.Status, body)
			}
			n.writeLog(t, &pods[1], "web", 0, "after the reload")
			sinktest.Eventually(t, waitTimeout, "the added sink's validation line and the next line", func() error {
				b, err := os.ReadFile(added)
				if err != nil {
					return err
				}
				if lines := strings.Count(string(b), "\n"); lines < 2 || !strings.Contains(string(b), "after the reload") {
					return fmt.Errorf("added sink has %d lines: %s", lines, b)
				}
				return nil
			})
		}()
		sinktest.Eventually(t, waitTimeout, "the last line in the sink", func() error {
			for _, r := range n.delivered(t) {
				if r.Log == "last words of "+gone.Name {
					if r.Service != "web" || r.Project != "payments" || r.Labels["tier"] != "frontend" {
						t.Fatalf("line of the deleted pod not enriched: %+v", r)
					}
					return nil
				}
			}
			return fmt.Errorf("not delivered yet")
		})
	})
}

func TestCollectorMakesNoRequestPerPod(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	n := startCollector(t, c, kubetest.StartKubelet(t))

	const replicas = 30
	if _, err := c.Client.AppsV1().Deployments("shop").Create(ctx, deployment("web", replicas, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := runningPods(t, c, "shop", "app=web", replicas)
	for _, p := range pods {
		n.writeLog(t, &p, "web", 0, "hello from "+p.Name)
	}
	sinktest.Eventually(t, waitTimeout, fmt.Sprintf("%d enriched lines", replicas), func() error {
		enriched := 0
		for _, r := range n.delivered(t) {
			if r.Service == "web" && r.Labels["app"] == "web" && r.Labels["k8s.pod.name"] == r.Instance {
				enriched++
			}
		}
		if enriched != replicas {
			return fmt.Errorf("%d enriched", enriched)
		}
		return nil
	})

	counts := map[string]int{}
	for _, r := range n.Requests.all() {
		counts[r]++
	}
	var lines []string
	podRequests := 0
	for r, k := range counts {
		lines = append(lines, fmt.Sprintf("%4d  %s", k, r))
		switch {
		case strings.HasPrefix(r, "GET /api/v1/pods?fieldSelector=spec.nodeName="+kubetest.NodeName):
			podRequests += k
		case strings.Contains(r, "/pods"), strings.Contains(r, "/replicasets"), strings.Contains(r, "/deployments"), strings.Contains(r, "/statefulsets"):
			t.Errorf("%d requests %s: a collector reads pods only through its node watch", k, r)
		case strings.Contains(r, "/leases"), strings.Contains(r, "/tokenreviews"):
		default:
			t.Errorf("unexpected request %s (%d)", r, k)
		}
	}
	sort.Strings(lines)
	t.Logf("requests of the collector while %d pods started on its node:\n%s", replicas, strings.Join(lines, "\n"))
	// One watch that starts with the list (or a list and a watch); a watch
	// the server ends may be started again.
	if podRequests < 1 || podRequests > 4 {
		t.Errorf("%d list and watch requests of the node's pods, want 1 or 2 (at most 4 with re-watches)", podRequests)
	}
}

func TestCollectorServesPVCSamplesFromTheKubelet(t *testing.T) {
	c := startControllerCluster(t)
	ctx := context.Background()
	kubelet := kubetest.StartKubelet(t)
	n := startCollector(t, c, kubelet)

	pod := startDBWithClaimAt92(t, c, kubelet, kubetest.KubeletContainer{Name: "db", CPUSeconds: 12.5, MemoryBytes: 300 << 20, MemoryLimitBytes: 1 << 30},
		kubetest.KubeletVolume{Name: "kube-api-access-x2x9k", UsedBytes: 4096, CapacityBytes: 1 << 20})

	type samplesBody struct {
		Node    string         `json:"node"`
		Samples []model.Sample `json:"samples"`
		Next    time.Time      `json:"next"`
	}
	var body samplesBody
	find := func(typ model.MetricType) *model.Sample {
		for i := len(body.Samples) - 1; i >= 0; i-- {
			if s := body.Samples[i]; s.Type == typ {
				return &s
			}
		}
		return nil
	}
	sinktest.Eventually(t, waitTimeout, "volume samples of the claim", func() error {
		if code, err := getNodeJSON(n.API+"/api/v1/node/samples", &body); err != nil || code != 200 {
			return fmt.Errorf("status %d: %v", code, err)
		}
		if find(model.MetricVolumeUsed) == nil || find(model.MetricMemory) == nil {
			return fmt.Errorf("%d samples, no volume and memory yet", len(body.Samples))
		}
		return nil
	})
	if body.Node != kubetest.NodeName {
		t.Errorf("node %q", body.Node)
	}
	used, capSample, pct := find(model.MetricVolumeUsed), find(model.MetricVolumeCapacity), find(model.MetricVolumeUsedPercent)
	wantRef := model.Ref{Project: "shop", Service: "db"}
	for _, s := range []*model.Sample{used, capSample, pct} {
		if s == nil || s.Ref != wantRef || s.Volume != "data-db-0" {
			t.Fatalf("volume sample %+v: want the claim data-db-0 of service shop/db", s)
		}
	}
	if used.Value != claimCapacity*92/100 || capSample.Value != claimCapacity || pct.Value < 91.9 || pct.Value > 92.1 {
		t.Errorf("used %v, capacity %v, percent %v", used.Value, capSample.Value, pct.Value)
	}
	for _, s := range body.Samples {
		if s.Volume != "" && s.Volume != "data-db-0" {
			t.Errorf("a volume that is not a claim is reported: %+v", s)
		}
	}
	if mem := find(model.MetricMemory); mem.Ref != (model.Ref{Project: "shop", Service: "db", Instance: pod.Name, Container: "db"}) || mem.Value != 300<<20 {
		t.Errorf("memory sample %+v", mem)
	}

	t.Run("next is a cursor: asking with it returns only newer samples", func(t *testing.T) {
		var again samplesBody
		if code, err := getNodeJSON(n.API+"/api/v1/node/samples?since="+url.QueryEscape(body.Next.Format(time.RFC3339Nano)), &again); err != nil || code != 200 {
			t.Fatalf("status %d: %v", code, err)
		}
		if !again.Next.After(body.Next) && len(again.Samples) > 0 {
			t.Errorf("%d samples without a newer cursor", len(again.Samples))
		}
		if len(again.Samples) >= len(body.Samples) {
			t.Errorf("the cursor returned %d samples of %d again", len(again.Samples), len(body.Samples))
		}
	})
	t.Run("/metrics shows the claim's usage", func(t *testing.T) {
		resp, err := http.Get(n.API + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if !strings.Contains(b.String(), `opshub_volume_used_bytes{project="shop",service="db",volume="data-db-0"}`) {
			t.Errorf("no volume series for the claim in:\n%s", grepLines(b.String(), "opshub_volume"))
		}
	})
	t.Run("the kubelet saw the collector's token on every request", func(t *testing.T) {
		if kubelet.Refused() != 0 || kubelet.Requests() < 2 {
			t.Errorf("kubelet served %d requests and refused %d", kubelet.Requests(), kubelet.Refused())
		}
	})
	t.Run("the API server's TokenReview allows the controller and no one else", func(t *testing.T) {
		// kubetest made the namespace's default ServiceAccount.
		if _, err := c.Client.CoreV1().ServiceAccounts("opshub").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "opshub-controller"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		reviewer, err := kubernetes.NewTokenReviewer(kubernetes.TokenReviewerOptions{Client: c.Client, Allowed: []string{kubernetes.ControllerIdentity("opshub")}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			sa      string
			allowed bool
		}{{"opshub-controller", true}, {"default", false}} {
			tok, err := c.Client.CoreV1().ServiceAccounts("opshub").CreateToken(ctx, tc.sa, &authnv1.TokenRequest{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			id, ok, err := reviewer.Review(ctx, tok.Status.Token)
			if err != nil || ok != tc.allowed || id != "system:serviceaccount:opshub:"+tc.sa {
				t.Errorf("%s: identity %q allowed %t err %v", tc.sa, id, ok, err)
			}
		}
		if id, ok, err := reviewer.Review(ctx, "not-a-token"); err != nil || ok || id != "" {
			t.Errorf("a made-up token: identity %q allowed %t err %v", id, ok, err)
		}
	})
}

func getNodeJSON(url string, out any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// claimCapacity is the capacity the kubelet reports for db's claim.
const claimCapacity = 10 << 30

// startDBWithClaimAt92 runs the StatefulSet db in shop and has the kubelet
// report its container and its claim data-db-0 92 % full (and any other
// volumes given). It returns the pod.
func startDBWithClaimAt92(t *testing.T, c *kubetest.Cluster, kubelet *kubetest.Kubelet, container kubetest.KubeletContainer, others ...kubetest.KubeletVolume) corev1.Pod {
	t.Helper()
	if _, err := c.Client.AppsV1().StatefulSets("shop").Create(context.Background(), dbWithClaim(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := runningPods(t, c, "shop", "app=db", 1)[0]
	kubelet.SetPods(kubetest.KubeletPod{
		Namespace: "shop", Name: pod.Name, UID: string(pod.UID),
		Containers: []kubetest.KubeletContainer{container},
		Volumes:    append([]kubetest.KubeletVolume{{Name: "data", PVC: "data-db-0", UsedBytes: claimCapacity * 92 / 100, CapacityBytes: claimCapacity}}, others...),
	})
	return pod
}

// dbWithClaim is a one-replica StatefulSet "db" on the simulated node whose
// pod mounts the claim data-db-0 (10Gi) from its claim template.
func dbWithClaim() *appsv1.StatefulSet {
	replicas := int32(1)
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{
					NodeName:   kubetest.NodeName,
					Containers: []corev1.Container{{Name: "db", Image: "registry.example/db:1", VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
				},
			}},
		},
	}
}
