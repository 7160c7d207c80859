package local

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/promtest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/probes"
)

// demoBinary builds cmd/opshub-demo once per test binary.
var demoBinary = func() func(t *testing.T) string {
	var (
		once sync.Once
		path string
		err  error
	)
	return func(t *testing.T) string {
		t.Helper()
		once.Do(func() {
			dir, mkErr := os.MkdirTemp("", "opshub-demo-")
			if mkErr != nil {
				err = mkErr
				return
			}
			path = filepath.Join(dir, "opshub-demo")
			if out, buildErr := exec.Command("go", "build", "-o", path, "github.com/opshub/opshub/cmd/opshub-demo").CombinedOutput(); buildErr != nil {
				err = fmt.Errorf("build opshub-demo: %v\n%s", buildErr, out)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
}()

// eventLog collects a runtime's instance events.
type eventLog struct {
	mu     sync.Mutex
	events []model.InstanceEvent
}

func subscribe(t *testing.T, r *Runtime) *eventLog {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := &eventLog{}
	ch := r.Subscribe(ctx)
	go func() {
		for ev := range ch {
			l.mu.Lock()
			l.events = append(l.events, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

// find returns the events of kind about instance ("": any).
func (l *eventLog) find(kind model.InstanceEventKind, instance string) []model.InstanceEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []model.InstanceEvent
	for _, ev := range l.events {
		if (kind == "" || ev.Kind == kind) && (instance == "" || ev.Ref.Instance == instance) {
			out = append(out, ev)
		}
	}
	return out
}

// control sets demo knobs on an instance's own port.
func control(t *testing.T, port int, query string) {
	t.Helper()
	resp, err := http.Post("http://127.0.0.1:"+strconv.Itoa(port)+"/control?"+query, "", nil)
	if err != nil {
		t.Fatalf("control %s: %v", query, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("control %s: %s", query, resp.Status)
	}
}

func probeOf(in model.Instance, typ probes.Type) (model.ProbeStatus, bool) {
	for _, p := range in.Probes {
		if p.Type == string(typ) {
			return p, true
		}
	}
	return model.ProbeStatus{}, false
}

// TestReadinessProbeDrivesTheProxy: an instance whose readiness probe starts
// failing stops getting proxied requests within one period plus the
// timeout, and gets them again once successThreshold runs passed.
func TestReadinessProbeDrivesTheProxy(t *testing.T) {
	t.Parallel()
	const period, timeout = time.Second, time.Second
	demo := demoBinary(t)
	port := sinktest.FreePort(t)
	h := start(t, Options{ProbeMetrics: probes.NewMetrics()}, Workload{
		Project: "demo", Name: "web",
		Command:     []string{demo, "--listen", "127.0.0.1:${PORT}"},
		Replicas:    2,
		Port:        port,
		GracePeriod: 5 * time.Second,
		Probes: probes.Set{Readiness: &probes.Spec{
			HTTP:   &probes.HTTPAction{Path: "/ready"},
			Period: period, Timeout: timeout, FailureThreshold: 1, SuccessThreshold: 2,
		}},
	})
	events := subscribe(t, h.r)
	ins := h.waitInstances("demo", "web", "two ready instances", 15*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 2 && ins[0].Ready && ins[1].Ready
	})
	flaky, steady := ins[0], ins[1]
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"

	control(t, flaky.Port, "ready=false")
	flipped := time.Now() // the flip happened before: an upper bound is checked from here
	h.waitInstances("demo", "web", "the flipped instance unready", 5*time.Second, func(ins []model.Instance) bool {
		return !ins[0].Ready
	})
	if took := time.Since(flipped); took > period+timeout+500*time.Millisecond {
		t.Errorf("unready after %s, want within one period plus the timeout (%s)", took, period+timeout)
	}
	for i := range 6 {
		if code, instance, _ := get(t, "GET", url, ""); code != 200 || instance != steady.Name {
			t.Fatalf("request %d went to %q (%d), want only %s while %s is unready", i, instance, code, steady.Name, flaky.Name)
		}
	}
	st, _ := probeOf(h.instances("demo", "web")[0], probes.Readiness)
	if st.Result != "failure" || st.Message != "HTTP probe failed with statuscode: 503" || st.LastFailure == nil {
		t.Errorf("readiness status while failing: %+v", st)
	}
	if got := h.instances("demo", "web")[0]; got.Status != model.StatusRunning || got.Restarts != 0 {
		t.Errorf("an unready instance keeps running: %s, %d restarts", got.Status, got.Restarts)
	}

	beforeFix := time.Now()
	control(t, flaky.Port, "ready=true")
	afterFix := time.Now()
	h.waitInstances("demo", "web", "the instance ready again", 10*time.Second, func(ins []model.Instance) bool {
		return ins[0].Ready
	})
	// Two passing runs one period apart, the first within a period.
	if early, late := time.Since(beforeFix), time.Since(afterFix); early < period || late > 2*period+timeout+300*time.Millisecond {
		t.Errorf("ready again after %s, want two passing runs (between %s and %s)", late, period, 2*period+timeout)
	}
	seen := map[string]bool{}
	for range 6 {
		_, instance, _ := get(t, "GET", url, "")
		seen[instance] = true
	}
	if !seen[flaky.Name] || !seen[steady.Name] {
		t.Errorf("requests went to %v, want both instances again", seen)
	}

	sinktest.WaitFor(t, 2*time.Second, "probe events", func() bool {
		return len(events.find(model.InstanceProbeRecovered, flaky.Name)) >= 1
	})
	if t.Failed() || len(events.find(model.InstanceProbeRecovered, flaky.Name)) != 1 {
		for _, ev := range events.find("", "") {
			t.Logf("%s %s %s %+v", ev.Time.Format("15:04:05.000"), ev.Kind, ev.Ref.Instance, ev.Probe)
		}
	}
	failing := events.find(model.InstanceProbeFailing, flaky.Name)
	if len(failing) != 1 || failing[0].Probe == nil || failing[0].Probe.Type != "readiness" ||
		failing[0].Probe.Message != "HTTP probe failed with statuscode: 503" || failing[0].Probe.History != nil {
		t.Errorf("probe-failing events: %+v", failing)
	}
	if n := len(events.find(model.InstanceProbeFailing, steady.Name)); n != 0 {
		t.Errorf("%d probe-failing events for the steady instance", n)
	}

	// The single-service view has the run history; the list does not.
	one := h.service("demo", "web").Instances[0]
	if st, _ := probeOf(one, probes.Readiness); len(st.History) < 4 || st.History[len(st.History)-1].Result != "success" {
		t.Errorf("history of the single service: %+v", st.History)
	}
	list, _ := h.r.Services(context.Background())
	if st, _ := probeOf(list[0].Instances[0], probes.Readiness); st.History != nil || st.Handler != "http GET :$PORT/ready" {
		t.Errorf("the list must leave the history out: %+v", st)
	}
}

// TestLivenessProbeRestarts: a liveness probe that fails failureThreshold
// times in a row restarts the instance through the normal restart path,
// with the reason LivenessProbeFailed.
func TestLivenessProbeRestarts(t *testing.T) {
	t.Parallel()
	const period = time.Second
	demo := demoBinary(t)
	set := probes.NewMetrics()
	h := start(t, Options{ProbeMetrics: set}, Workload{
		Project: "demo", Name: "web",
		Command:     []string{demo, "--listen", "127.0.0.1:${PORT}"},
		Replicas:    1,
		Port:        sinktest.FreePort(t),
		GracePeriod: 5 * time.Second,
		Probes: probes.Set{Liveness: &probes.Spec{
			HTTP:   &probes.HTTPAction{Path: "/healthz"},
			Period: period, FailureThreshold: 3,
		}},
	})
	events := subscribe(t, h.r)
	ins := h.waitInstances("demo", "web", "a live instance", 15*time.Second, func(ins []model.Instance) bool {
		st, _ := probeOf(ins[0], probes.Liveness)
		return ins[0].Ready && st.Consecutive >= 1 && st.Result == "success"
	})

	broken := time.Now() // a lower bound is checked from before the flip
	control(t, ins[0].Port, "healthy=false")
	ins = h.waitInstances("demo", "web", "a restart", 10*time.Second, func(ins []model.Instance) bool {
		return ins[0].Restarts == 1
	})
	// Three failing runs one period apart, the first within a period,
	// then a graceful stop and an immediate first restart. (A run that
	// started just before the flip may see it, up to the timeout later.)
	if took := time.Since(broken); took < 2*period-time.Second || took > 3*period+2*time.Second {
		t.Errorf("restarted %s after the instance turned unhealthy, want after three failing runs a period apart", took)
	}
	st, _ := probeOf(h.service("demo", "web").Instances[0], probes.Liveness)
	var fails []time.Time
	for _, r := range st.History {
		if r.Result == "failure" {
			fails = append(fails, r.Time)
		}
	}
	if len(fails) != 3 || fails[1].Sub(fails[0]) < 8*period/10 || fails[2].Sub(fails[1]) < 8*period/10 {
		t.Errorf("failing runs at %v, want three, a period apart", fails)
	}
	if e := ins[0].LastExit; e == nil || e.Reason != ReasonLivenessProbeFailed {
		t.Fatalf("last exit %+v, want reason %s", ins[0].LastExit, ReasonLivenessProbeFailed)
	}
	failing := events.find(model.InstanceProbeFailing, "")
	if len(failing) != 1 || failing[0].Probe.Type != "liveness" || failing[0].Probe.Consecutive != 3 ||
		failing[0].Probe.Message != "HTTP probe failed with statuscode: 500" {
		t.Errorf("probe-failing events: %+v", failing)
	}

	// The new run is healthy: the probe recovers and nothing restarts again.
	h.waitInstances("demo", "web", "the restarted instance live and ready", 10*time.Second, func(ins []model.Instance) bool {
		st, _ := probeOf(ins[0], probes.Liveness)
		return ins[0].Ready && st.Result == "success" && st.LastProbe.After(ins[0].StartedAt)
	})
	sinktest.WaitFor(t, 3*time.Second, "a probe-recovered event", func() bool {
		return len(events.find(model.InstanceProbeRecovered, "")) == 1
	})
	out := promtest.Exposition(t, set)
	want := fmt.Sprintf(`opshub_probe_success{container="web",instance=%q,probe_type="liveness",project="demo",service="web"} 1`, ins[0].Name)
	if !strings.Contains(out, want) {
		t.Errorf("metrics lack %s:\n%s", want, out)
	}
	if got := h.instances("demo", "web")[0].Restarts; got != 1 {
		t.Errorf("%d restarts, want 1", got)
	}
}

// TestStartupProbes: a slow starter with a startup probe is not killed by
// its liveness probe, while the same program without one is; a startup
// probe that never passes restarts the instance with StartupProbeFailed;
// exec probes run with the instance's environment.
func TestStartupProbes(t *testing.T) {
	t.Parallel()
	demo := demoBinary(t)
	slow := []string{"/bin/sh", "-c", "sleep 3; exec " + demo + ` --listen "127.0.0.1:$PORT"`}
	liveness := &probes.Spec{TCP: &probes.TCPAction{}, Period: time.Second, FailureThreshold: 1}
	h := start(t, Options{ProbeMetrics: probes.NewMetrics()},
		Workload{
			Project: "demo", Name: "slow", Command: slow, Replicas: 1, Port: sinktest.FreePort(t), GracePeriod: 2 * time.Second,
			Probes: probes.Set{
				Startup:  &probes.Spec{HTTP: &probes.HTTPAction{Path: "/healthz"}, Period: time.Second, FailureThreshold: 10},
				Liveness: liveness,
			},
		},
		Workload{
			Project: "demo", Name: "unprotected", Command: slow, Replicas: 1, Port: sinktest.FreePort(t), GracePeriod: 2 * time.Second,
			Probes: probes.Set{Liveness: liveness},
		},
		Workload{
			Project: "demo", Name: "never", Command: []string{"sleep", "100"}, Replicas: 1, GracePeriod: 2 * time.Second,
			Probes: probes.Set{Startup: &probes.Spec{TCP: &probes.TCPAction{Port: sinktest.FreePort(t)}, Period: time.Second, FailureThreshold: 2}},
		},
		Workload{
			Project: "demo", Name: "worker", Command: []string{"sleep", "100"}, Replicas: 1, GracePeriod: 2 * time.Second,
			Probes: probes.Set{Readiness: &probes.Spec{
				Exec:   &probes.ExecAction{Command: []string{"/bin/sh", "-c", `test "$OPSHUB_SERVICE/${OPSHUB_REPLICA}" = worker/0`}},
				Period: time.Second,
			}},
		},
	)
	began := time.Now()
	h.waitInstances("demo", "slow", "the slow starter starting", 5*time.Second, allStatus(1, model.StatusStarting))
	h.waitInstances("demo", "worker", "the exec-probed worker ready", 5*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 1 && ins[0].Ready && ins[0].Status == model.StatusRunning
	})

	ins := h.waitInstances("demo", "slow", "the slow starter ready", 15*time.Second, func(ins []model.Instance) bool {
		return len(ins) == 1 && ins[0].Ready
	})
	if took := time.Since(began); took < 2500*time.Millisecond {
		t.Errorf("ready after %s: the program listens only after 3s", took)
	}
	if ins[0].Restarts != 0 || ins[0].Status != model.StatusRunning {
		t.Errorf("the slow starter with a startup probe: %s with %d restarts, want Running with none", ins[0].Status, ins[0].Restarts)
	}
	if st, _ := probeOf(ins[0], probes.Startup); st.Result != "success" || st.LastFailure == nil ||
		!strings.Contains(st.LastFailure.Message, "connection refused") {
		t.Errorf("startup probe status: %+v", st)
	}

	un := h.instances("demo", "unprotected")[0]
	if un.Restarts == 0 || un.LastExit == nil || un.LastExit.Reason != ReasonLivenessProbeFailed {
		t.Errorf("without a startup probe the liveness probe must kill the slow starter: %d restarts, last exit %+v", un.Restarts, un.LastExit)
	}

	never := h.waitInstances("demo", "never", "a restart after the startup failure", 10*time.Second, func(ins []model.Instance) bool {
		return ins[0].Restarts >= 1
	})[0]
	if never.LastExit.Reason != ReasonStartupProbeFailed || never.Restarts != 1 {
		t.Errorf("a startup probe that never passes: %d restarts, last exit %+v", never.Restarts, never.LastExit)
	}
	if never.Status != model.StatusStarting && never.Status != model.StatusCrashing {
		t.Errorf("an instance that never started is %s", never.Status)
	}
}
