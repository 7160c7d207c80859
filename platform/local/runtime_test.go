package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

var (
	uidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	instanceRE = regexp.MustCompile(`^web-[0-9a-f]{4}-[0-2]$`)
)

// TestReplicasGetOwnPortsAndEnvironment: each replica has its own name, uid
// and $PORT, the runtime's variables, the workload's env with ${…} expanded,
// opshub's own environment, its volume directory and its working directory.
func TestReplicasGetOwnPortsAndEnvironment(t *testing.T) {
	t.Setenv("OPSHUB_TEST_INHERITED", "from-opshub")
	out := t.TempDir()
	vol := filepath.Join(t.TempDir(), "vol", "data") // missing: created by the runtime
	script := `env > "$OUT/env-$OPSHUB_REPLICA"; echo "$1" > "$OUT/arg-$OPSHUB_REPLICA"; pwd > "$OUT/pwd-$OPSHUB_REPLICA"; exec sleep 1000`
	h := start(t, Options{}, Workload{
		Project:    "demo",
		Name:       "web",
		Command:    []string{"/bin/sh", "-c", script, "sh", "listen=127.0.0.1:${PORT}"},
		Env:        map[string]string{"OUT": out, "GREETING": "hello ${OPSHUB_INSTANCE}", "PORT": "overridden?"},
		WorkingDir: "${OPSHUB_VOLUME_DATA}",
		Replicas:   3,
		Volumes:    []Volume{{Name: "data", Path: vol, Capacity: 1 << 30}},
	})
	ins := h.waitInstances("demo", "web", "3 running instances", 10*time.Second, allStatus(3, model.StatusRunning))
	sinktest.WaitFor(t, 10*time.Second, "every instance wrote its files", func() bool {
		for i := range 3 {
			if _, err := os.Stat(filepath.Join(out, "pwd-"+itoa(i))); err != nil {
				return false
			}
		}
		return true
	})

	ports := map[int]bool{}
	uids := map[string]bool{}
	for i, in := range ins {
		if !instanceRE.MatchString(in.Name) || !strings.HasSuffix(in.Name, "-"+itoa(i)) {
			t.Errorf("instance %d named %q", i, in.Name)
		}
		if !uidRE.MatchString(in.UID) || uids[in.UID] {
			t.Errorf("instance %s uid %q: not a fresh uuid", in.Name, in.UID)
		}
		uids[in.UID] = true
		if in.Port == 0 || ports[in.Port] {
			t.Errorf("instance %s port %d: not its own", in.Name, in.Port)
		}
		ports[in.Port] = true
		if !in.Ready || in.PID == 0 || in.StartedAt.IsZero() || in.Container != "web" || in.Limits != nil {
			t.Errorf("instance %+v: want ready with a pid, a start time, container web, no limits", in)
		}

		env := map[string]string{}
		for line := range strings.Lines(read(t, filepath.Join(out, "env-"+itoa(i)))) {
			if k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "="); ok {
				env[k] = v
			}
		}
		want := map[string]string{
			"PORT":                  itoa(in.Port),
			"OPSHUB_PROJECT":        "demo",
			"OPSHUB_SERVICE":        "web",
			"OPSHUB_INSTANCE":       in.Name,
			"OPSHUB_REPLICA":        itoa(i),
			"OPSHUB_VOLUME_DATA":    vol,
			"GREETING":              "hello " + in.Name,
			"OPSHUB_TEST_INHERITED": "from-opshub",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("instance %s: %s=%q, want %q", in.Name, k, env[k], v)
			}
		}
		if got := strings.TrimSpace(read(t, filepath.Join(out, "arg-"+itoa(i)))); got != "listen=127.0.0.1:"+itoa(in.Port) {
			t.Errorf("instance %s: argument %q", in.Name, got)
		}
		if got := strings.TrimSpace(read(t, filepath.Join(out, "pwd-"+itoa(i)))); got != vol {
			t.Errorf("instance %s: working dir %q, want %q", in.Name, got, vol)
		}
	}

	svcs, err := h.r.Services(context.Background())
	if err != nil || len(svcs) != 1 || svcs[0].Replicas != 3 || len(svcs[0].Instances) != 3 {
		t.Fatalf("Services: %+v, %v", svcs, err)
	}
	if got := h.metricValue("opshub_local_instances", map[string]string{"project": "demo", "service": "web", "status": "Running"}); got != 3 {
		t.Errorf("running gauge %v, want 3", got)
	}
	h.stop()
	if got := h.metricValue("opshub_local_instances", map[string]string{"project": "demo", "service": "web", "status": "Terminated"}); got != 3 {
		t.Errorf("terminated gauge %v, want 3", got)
	}
}

// TestServicesSortedAndNotFound: snapshots are sorted by project and name,
// and unknown services are platform.ErrNotFound.
func TestServicesSortedAndNotFound(t *testing.T) {
	sleep := []string{"/bin/sleep", "1000"}
	h := start(t, Options{},
		Workload{Project: "zeta", Name: "a", Command: sleep, Replicas: 1},
		Workload{Project: "alpha", Name: "web", Command: sleep, Replicas: 0},
		Workload{Project: "alpha", Name: "api", Command: sleep, Replicas: 1},
	)
	if got := sinktest.ServiceNames(t, h.r); strings.Join(got, " ") != "alpha/api alpha/web zeta/a" {
		t.Errorf("order %v", got)
	}
	if _, err := h.r.Service(context.Background(), "alpha", "nope"); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Service: %v, want ErrNotFound", err)
	}
	if err := h.r.Scale(context.Background(), "nope", "web", 1); !errors.Is(err, platform.ErrNotFound) {
		t.Errorf("Scale: %v, want ErrNotFound", err)
	}
}

// TestLogsAreWrittenAsCRIFiles: output lands in the kubelet's layout, one
// file per run, stdout and stderr as CRI records.
func TestLogsAreWrittenAsCRIFiles(t *testing.T) {
	h := start(t, Options{}, Workload{
		Project: "demo", Name: "job",
		Command:       []string{"/bin/sh", "-c", `echo "to stdout"; echo "to stderr" >&2; printf "no newline"`},
		RestartPolicy: RestartNever,
		Replicas:      1,
	})
	in := h.waitInstances("demo", "job", "job completed", 10*time.Second, allStatus(1, model.StatusTerminated))[0]
	path := filepath.Join(h.r.LogRoot(), "demo_"+in.Name+"_"+in.UID, "job", "0.log")
	content := read(t, path)
	recRE := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (stdout|stderr) ([FP]) (.*)$`)
	var got []string
	for line := range strings.Lines(content) {
		m := recRE.FindStringSubmatch(strings.TrimSuffix(line, "\n"))
		if m == nil {
			t.Fatalf("not a CRI record: %q", line)
		}
		got = append(got, m[1]+" "+m[2]+" "+m[3])
	}
	// The two streams are copied concurrently, so only each stream's order is fixed.
	var stdout, stderr []string
	for _, g := range got {
		if strings.HasPrefix(g, "stdout") {
			stdout = append(stdout, g)
		} else {
			stderr = append(stderr, g)
		}
	}
	if strings.Join(stdout, "|") != "stdout F to stdout|stdout P no newline" || strings.Join(stderr, "|") != "stderr F to stderr" {
		t.Errorf("records %q", got)
	}
	if in.LastExit == nil || in.LastExit.Reason != "Completed" || in.LastExit.Code != 0 {
		t.Errorf("last exit %+v", in.LastExit)
	}
}

// TestRestartPolicies: Always restarts on any exit, OnFailure only on a
// failure, Never never; what is not restarted ends Terminated (exit 0) or
// Failed, with the exit recorded.
func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name         string
		policy       RestartPolicy
		script       string
		wantStatus   model.Status // once settled
		wantRestarts int
		wantExit     model.Exit
	}{
		{"never, success", RestartNever, "exit 0", model.StatusTerminated, 0, model.Exit{Code: 0, Reason: "Completed"}},
		{"never, failure", RestartNever, "exit 3", model.StatusFailed, 0, model.Exit{Code: 3, Reason: "Error"}},
		{"never, killed", RestartNever, "kill -KILL $$", model.StatusFailed, 0, model.Exit{Code: -1, Signal: "SIGKILL", Reason: "Signaled"}},
		{"on failure, success", RestartOnFailure, "exit 0", model.StatusTerminated, 0, model.Exit{Code: 0, Reason: "Completed"}},
		// Restarted at once, then waits 10 s in back-off: Crashing.
		{"on failure, failure", RestartOnFailure, "exit 2", model.StatusCrashing, 1, model.Exit{Code: 2, Reason: "Error"}},
		{"always, success", RestartAlways, "exit 0", model.StatusCrashing, 1, model.Exit{Code: 0, Reason: "Completed"}},
	}
	workloads := make([]Workload, len(tests))
	for i, tc := range tests {
		workloads[i] = Workload{Project: "policies", Name: "case" + itoa(i), Command: []string{"/bin/sh", "-c", tc.script}, Replicas: 1, RestartPolicy: tc.policy}
	}
	h := start(t, Options{}, workloads...)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := h.waitInstances("policies", "case"+itoa(i), string(tc.wantStatus), 10*time.Second, allStatus(1, tc.wantStatus))[0]
			if in.Restarts != tc.wantRestarts {
				t.Errorf("restarts %d, want %d", in.Restarts, tc.wantRestarts)
			}
			if in.LastExit == nil {
				t.Fatal("no last exit")
			}
			got := *in.LastExit
			got.Time = time.Time{}
			if got != tc.wantExit {
				t.Errorf("last exit %+v, want %+v", got, tc.wantExit)
			}
			if len(in.RecentExits) != tc.wantRestarts+1 {
				t.Errorf("recent exits %d, want %d", len(in.RecentExits), tc.wantRestarts+1)
			}
			if in.Ready || in.PID != 0 {
				t.Errorf("ready %v pid %d after the exit", in.Ready, in.PID)
			}
			if tc.wantStatus == model.StatusCrashing {
				if in.Backoff != "10s" || !in.NextRestart.Equal(in.LastExit.Time.Add(10*time.Second)) {
					t.Errorf("backoff %q next restart %s, want 10s after %s", in.Backoff, in.NextRestart, in.LastExit.Time)
				}
			}
		})
	}
	if got := h.metricValue("opshub_local_instance_restarts_total", map[string]string{"project": "policies", "service": "case5"}); got != 1 {
		t.Errorf("restarts counter %v, want 1", got)
	}
}

// TestStartErrorIsAFailure: a program that does not exist fails like a
// container that cannot start.
func TestStartErrorIsAFailure(t *testing.T) {
	h := start(t, Options{}, Workload{Project: "demo", Name: "broken", Command: []string{"no-such-program-opshub"}, Replicas: 1, RestartPolicy: RestartNever})
	in := h.waitInstances("demo", "broken", "failed", 10*time.Second, allStatus(1, model.StatusFailed))[0]
	if in.LastExit == nil || in.LastExit.Reason != "StartError" || in.LastExit.Code != 128 {
		t.Errorf("last exit %+v", in.LastExit)
	}
}

// TestCloseStopsRun: Close ends a running Run and waits for it; it is
// idempotent, and a no-op on a runtime that never ran.
func TestCloseStopsRun(t *testing.T) {
	never, err := New(Options{DataDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Close(); err != nil {
		t.Fatal(err)
	}

	h := start(t, Options{}, Workload{Project: "demo", Name: "web", Command: []string{"/bin/sleep", "1000"}, Replicas: 1})
	pid := h.waitInstances("demo", "web", "running", 10*time.Second, allStatus(1, model.StatusRunning))[0].PID
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	// Run's work is over when Close returns.
	if alive(pid) || h.r.Ready() {
		t.Errorf("after Close: pid alive %v, ready %v", alive(pid), h.r.Ready())
	}
	select {
	case err := <-h.errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	h.cancel = nil
	if err := h.r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
}
