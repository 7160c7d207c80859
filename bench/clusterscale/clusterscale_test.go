package clusterscale

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/opshub/opshub/internal/kubetest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store/kubestate"
)

// BenchmarkClusterScale runs `opshub controller` against a simulated
// cluster: the e2e suite's kube-apiserver and etcd, kwok playing the
// kubelet of -nodes nodes running -pods pods (Deployments and
// StatefulSets of -replicas over -namespaces namespaces, some with claims),
// and one simulated collector per node (a Lease each, and one in-process
// server answering every node's API by path). It measures the time to the
// first full sync, the controller's CPU and RSS at steady state and under
// churn (-churn pods deleted a second, replaced by their controllers), the
// controller's API requests a minute by verb and resource, the size and
// write rate of its state, and how long a crash loop written during churn
// takes to reach a webhook. Each figure is logged with the load average;
// run it once per size (the benchmark's loop is not used: -benchtime 1x):
//
//	go test -run '^$' -bench ClusterScale -benchtime 1x -timeout 60m ./bench/clusterscale -args -nodes 1000 -pods 10000 -namespaces 200
func BenchmarkClusterScale(b *testing.B) {
	s := shape{nodes: *nodes, pods: *pods, namespaces: *namespaces, replicas: *replicas}
	if s.nodes < 1 || s.pods < 1 || s.namespaces < 1 || s.replicas < 1 || *crashPods < 1 {
		b.Fatal("-nodes, -pods, -namespaces, -replicas and -crashloops must be 1 or more")
	}
	ctx := b.Context()
	r := &report{b: b}
	r.logf("shape: %d nodes, %d pods in %d workloads of %d over %d namespaces, %d crash-loop pods; churn %.1f pods/s; phases of %s",
		s.nodes, s.pods, s.workloads(), s.replicas, s.namespaces, *crashPods, *churnRate, *phase)

	start := time.Now()
	c := kubetest.Start(b, kubetest.Options{ControllerManagerQPS: 400, PodCIDR: "10.64.0.1/12"})
	client := fastClient(b, c.Config)
	must(b, addNodes(ctx, client, s.nodes))
	must(b, createNamespace(ctx, client, controllerNamespace))
	must(b, createWorkloads(ctx, c, s))
	must(b, createCrashers(ctx, c, *crashPods))
	pods := watchPods(client)
	must(b, pods.start(ctx))
	sinktest.Eventually(b, *buildTimeout, "every pod of the simulated cluster running", func() error {
		if run, total := pods.running(); run < s.pods {
			return fmt.Errorf("%d of %d pods running (%d exist)", run, s.pods, total)
		}
		return nil
	})
	crashers := crasherPods(b, ctx, client)
	for _, p := range crashers {
		must(b, setRunning(ctx, client, p))
	}
	r.logf("simulated cluster built in %s", time.Since(start).Round(time.Second))

	sim, err := startCollectors(pods)
	must(b, err)
	defer sim.close()
	regCtx, stopRegs := context.WithCancel(ctx)
	regs, err := sim.register(regCtx, client, s.nodes)
	must(b, err)
	defer regs.Wait()
	defer stopRegs()
	counter, err := startAPICounter(c.Config.Host, c.Config.BearerToken, c.Config.CAData)
	must(b, err)
	defer counter.close()
	hook := newHook()
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()

	// The controller, as its own process, talking to the API through the
	// counter.
	addr := sinktest.FreeAddr(b)
	api := "http://" + addr
	cfgFile := writeControllerConfig(b, counter.url, c.Config.BearerToken, addr, hookSrv.URL, *profileDir != "")
	cluster := clusterProcesses(c.Dir)
	started := time.Now()
	env := []string{"POD_NAME=controller-0", "POD_NAMESPACE=" + controllerNamespace}
	if *memLimit != "" {
		env = append(env, "GOMEMLIMIT="+*memLimit)
	}
	args := []string{"controller", "-c", cfgFile}
	var ctl *sinktest.Opshub
	if *ctlMemory != "" {
		cg := memoryCgroup(b, *ctlMemory)
		ctl = sinktest.StartOpshubInCgroup(b, cg.dir, args, env...)
		defer func() { r.logf("controller's memory cgroup: %s", cg.report()) }()
	} else {
		ctl = sinktest.StartOpshub(b, args, env...)
	}
	ctl.WaitReady(b, api, 5*time.Minute)
	leading := time.Since(started)
	want := s.pods + len(crashers)
	sinktest.Eventually(b, 5*time.Minute, "the controller's services API listing every pod", func() error {
		n, err := instances(api)
		if err != nil || n < want {
			return fmt.Errorf("%d of %d instances listed (%v)", n, want, err)
		}
		return nil
	})
	r.metric(time.Since(started).Seconds(), "first-sync-s", "first full sync: ready and leading after %s, every instance listed after %s (target < 60 s)",
		leading.Round(100*time.Millisecond), time.Since(started).Round(100*time.Millisecond))
	// A new leader imports every workload's release history once (one
	// read of each workload and one state write each): let that pass
	// before the steady state is measured.
	r.phase("takeover", api, counter, cluster, *settle, nil)
	b.ResetTimer()

	// Steady state.
	var profile func(context.Context)
	if *profileDir != "" {
		profile = func(ctx context.Context) { saveProfiles(b, ctx, api, *profileDir) }
	}
	steady := r.phase("steady", api, counter, cluster, *phase, profile)
	// Churn with crash loops.
	var deleted int
	var lat []time.Duration
	churnStats := r.phase("churn", api, counter, cluster, *phase, func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { deleted = churn(ctx, client, pods, *churnRate) })
		lat = crashLoops(b, ctx, client, crashers, hook, *phase)
		wg.Wait()
	})
	r.logf("churn: %d pods deleted and replaced", deleted)
	b.StopTimer()

	r.metric(steady.cores, "steady-cores", "steady state: %.3f cores, RSS %s max (targets < 0.5 core, < 1 GiB)", steady.cores, mib(steady.rssMax))
	r.metric(float64(steady.rssMax)/(1<<20), "steady-rss-MiB", "")
	r.metric(churnStats.cores, "churn-cores", "under churn: %.3f cores, RSS %s max", churnStats.cores, mib(churnStats.rssMax))
	r.metric(float64(churnStats.rssMax)/(1<<20), "churn-rss-MiB", "")
	stored, objects := stateSize(b, ctx, client)
	r.metric(float64(stored), "state-bytes", "state: %d bytes compressed in %d Secrets; writes %.1f/min steady, %.1f/min under churn",
		stored, objects, steady.stateWrites, churnStats.stateWrites)
	slices.Sort(lat)
	if len(lat) > 0 {
		p99 := lat[min(len(lat)-1, len(lat)*99/100)]
		r.metric(p99.Seconds(), "crashloop-p99-s", "crash-loop notification during churn: %d of %d, p50 %s, p99 %s, max %s (target p99 < 5 s)",
			len(lat), len(crashers), lat[len(lat)/2].Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	if len(lat) < len(crashers) {
		b.Errorf("%d of %d crash loops were not notified within 30 s of the churn phase's end", len(crashers)-len(lat), len(crashers))
	}
}

// phaseStats is what one phase measured.
type phaseStats struct {
	cores       float64 // the controller's CPU over the phase
	rssMax      int64
	stateWrites float64 // writes of state Secrets a minute
}

// phase runs work (or waits) for d, sampling the controller every 5 s,
// and logs its CPU, RSS, API requests a minute, the simulated cluster's
// CPU and the load average.
func (r *report) phase(name, api string, counter *apiCounter, cluster func() float64, d time.Duration, work func(ctx context.Context)) phaseStats {
	r.b.Helper()
	ctx, cancel := context.WithTimeout(r.b.Context(), d)
	defer cancel()
	cpu0, _ := controllerProcess(api)
	calls0, sim0, self0, load0 := counter.snapshot(), cluster(), selfCPU(), loadavg()
	t0 := time.Now()
	var st phaseStats
	done := make(chan struct{})
	go func() {
		defer close(done)
		if work != nil {
			work(ctx)
		}
		<-ctx.Done()
	}()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-tick.C:
			if _, rss := controllerProcess(api); rss > st.rssMax {
				st.rssMax = rss
			}
		}
	}
	el := time.Since(t0)
	cpu1, rss := controllerProcess(api)
	st.rssMax = max(st.rssMax, rss)
	st.cores = (cpu1 - cpu0) / el.Seconds()
	calls1 := counter.snapshot()
	for k, v := range calls1 {
		if strings.HasSuffix(k, " secrets") && (strings.HasPrefix(k, "update ") || strings.HasPrefix(k, "create ")) {
			st.stateWrites += float64(v-calls0[k]) / el.Minutes()
		}
	}
	r.logf("%s phase, %s, load average %s → %s: controller %.3f cores, RSS %s max; simulated cluster (etcd, kube-apiserver, kube-controller-manager, kwok) %.2f cores, this process (collectors, churn) %.2f cores",
		name, el.Round(time.Second), load0, loadavg(), st.cores, mib(st.rssMax), (cluster()-sim0)/el.Seconds(), (selfCPU()-self0)/el.Seconds())
	r.logf("%s phase: controller API requests: %s", name, strings.Join(perMinute(calls0, calls1, el), ", "))
	return st
}

// crashLoops drives one crasher pod into CrashLoopBackOff at even
// intervals over d and returns how long each notification took to reach
// the webhook, from the status write.
func crashLoops(b *testing.B, ctx context.Context, client kubernetes.Interface, crashers []*corev1.Pod, hook *hook, d time.Duration) []time.Duration {
	every := d / time.Duration(len(crashers)+1)
	written := map[string]time.Time{}
	for _, p := range crashers {
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
		at, err := crashLoop(context.WithoutCancel(ctx), client, p)
		if err != nil {
			b.Errorf("crash loop of %s: %v", p.Name, err)
			continue
		}
		written[p.Name] = at
	}
	deadline := time.After(30 * time.Second)
	for {
		var out []time.Duration
		for name, at := range written {
			if got, ok := hook.first(name); ok {
				out = append(out, got.Sub(at))
			}
		}
		if len(out) == len(written) {
			return out
		}
		select {
		case <-hook.arrived:
		case <-deadline:
			return out
		}
	}
}

// hook records when each body first arrived.
type hook struct {
	mu      sync.Mutex
	bodies  []arrival
	arrived chan struct{} // a value after each arrival not yet looked at
}

type arrival struct {
	at   time.Time
	body []byte
}

func newHook() *hook { return &hook{arrived: make(chan struct{}, 1)} }

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, arrival{time.Now(), body})
	h.mu.Unlock()
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusOK)
}

// first is when a notification naming pod first arrived.
func (h *hook) first(pod string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.bodies {
		if bytes.Contains(a.body, []byte(`"`+pod+`"`)) {
			return a.at, true
		}
	}
	return time.Time{}, false
}

// report logs figures and reports them as benchmark metrics.
type report struct{ b *testing.B }

// logf prints a line of the report (to stdout: the testing package
// truncates a benchmark's log).
func (r *report) logf(format string, args ...any) {
	fmt.Printf("clusterscale: "+format+"\n", args...)
}

func (r *report) metric(v float64, unit, format string, args ...any) {
	r.b.Helper()
	r.b.ReportMetric(v, unit)
	if format != "" {
		r.logf(format+" (load average %s)", append(args, loadavg())...)
	}
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func mib(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

// fastClient is the benchmark's own client, not held back by client-go's
// default 5 requests a second.
func fastClient(b *testing.B, cfg *rest.Config) kubernetes.Interface {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 2000, 4000
	client, err := kubernetes.NewForConfig(cfg)
	must(b, err)
	return client
}

func crasherPods(b *testing.B, ctx context.Context, client kubernetes.Interface) []*corev1.Pod {
	var out []*corev1.Pod
	sinktest.Eventually(b, 2*time.Minute, "every crasher pod created", func() error {
		list, err := client.CoreV1().Pods(crashNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) < *crashPods {
			return fmt.Errorf("%d of %d", len(list.Items), *crashPods)
		}
		out = out[:0]
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
		return nil
	})
	return out
}

// writeControllerConfig writes the controller's config and a kubeconfig
// that reaches the API server through the counter.
func writeControllerConfig(b testing.TB, apiURL, token, listen, hookURL string, pprof bool) string {
	dir := b.TempDir()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["sim"] = &clientcmdapi.Cluster{Server: apiURL}
	kc.AuthInfos["controller"] = &clientcmdapi.AuthInfo{Token: token}
	kc.Contexts["sim"] = &clientcmdapi.Context{Cluster: "sim", AuthInfo: "controller"}
	kc.CurrentContext = "sim"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	must(b, clientcmd.WriteToFile(*kc, kubeconfig))
	cfg := fmt.Sprintf(`dataDir: %s
server:
  listen: %s
  pprof: %t
platform:
  kind: kubernetes
  kubeconfig: %s
  namespace: %s
notifications:
  integrations:
    - name: hook
      type: webhook
      url: %s
      secret: clusterscale-webhook-secret
      events: [container.crashloop]
`, filepath.Join(dir, "data"), listen, pprof, kubeconfig, controllerNamespace, hookURL)
	path := filepath.Join(dir, "controller.yaml")
	must(b, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// saveProfiles fetches a 30 s CPU profile and then the heap from the
// controller's /debug/pprof/ into dir.
func saveProfiles(b *testing.B, ctx context.Context, api, dir string) {
	must(b, os.MkdirAll(dir, 0o755))
	for _, p := range []struct{ path, file string }{
		{"/debug/pprof/profile?seconds=30", "controller-cpu.prof"},
		{"/debug/pprof/heap", "controller-heap.prof"},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+p.path, nil)
		must(b, err)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Errorf("profile %s: %v", p.path, err)
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Errorf("profile %s: %s %v %.200s", p.path, resp.Status, err, body)
			return
		}
		path := filepath.Join(dir, p.file)
		must(b, os.WriteFile(path, body, 0o644))
		fmt.Printf("clusterscale: saved %s (go tool pprof -top %s)\n", path, path)
	}
}

// instances counts the instances the controller's API lists.
func instances(api string) (int, error) {
	resp, err := http.Get(api + "/api/v1/services")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /api/v1/services: %s", resp.Status)
	}
	var body struct {
		Services []model.Service `json:"services"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range body.Services {
		n += len(s.Instances)
	}
	return n, nil
}

// controllerProcess reads the controller's CPU seconds and RSS from its
// own /metrics.
func controllerProcess(api string) (cpu float64, rss int64) {
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "process_cpu_seconds_total "); ok {
			cpu, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(line, "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			rss = int64(f)
		}
	}
	return cpu, rss
}

// stateSize is what the controller's state takes in the API: the data of
// every state Secret, and how many there are.
func stateSize(b *testing.B, ctx context.Context, client kubernetes.Interface) (bytes, objects int) {
	list, err := client.CoreV1().Secrets(controllerNamespace).List(ctx, metav1.ListOptions{LabelSelector: "opshub.dev/state-of=" + kubestate.DefaultName})
	must(b, err)
	for _, s := range list.Items {
		for _, v := range s.Data {
			bytes += len(v)
		}
	}
	return bytes, len(list.Items)
}

// clusterProcesses returns a reader of the CPU seconds used so far by the
// simulated cluster's processes: those whose command line names the
// cluster's directory.
func clusterProcesses(dir string) func() float64 {
	return func() float64 {
		entries, _ := os.ReadDir("/proc")
		total := 0.0
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !bytes.Contains(cmd, []byte(dir)) {
				continue
			}
			total += procCPU(pid)
		}
		return total
	}
}

// procCPU is a process's user and system time in seconds (/proc/pid/stat,
// at the kernel's 100 ticks a second).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command may hold spaces: fields start after its closing paren.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
