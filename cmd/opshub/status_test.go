package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// webProbes are the probes of a demo/web instance at now: startup and
// liveness pass; readiness passes, or fails 4 times in a row with failing.
func webProbes(now time.Time, failing bool) []model.ProbeStatus {
	readiness := model.ProbeStatus{Type: "readiness", Result: "success", Consecutive: 40, LatencyMs: 0.84,
		Message: "ready", LastTransition: now.Add(-3 * time.Minute), Handler: "http GET :$PORT/ready", LastProbe: now.Add(-4 * time.Second)}
	if failing {
		readiness = model.ProbeStatus{Type: "readiness", Result: "failure", Consecutive: 4, LatencyMs: 1.37,
			Message: "HTTP probe failed with statuscode: 503", LastTransition: now.Add(-35 * time.Second),
			Handler: "http GET :$PORT/ready", LastProbe: now.Add(-5 * time.Second),
			LastFailure: &model.ProbeRun{Time: now.Add(-5 * time.Second), Result: "failure", LatencyMs: 1.37, Message: "HTTP probe failed with statuscode: 503"}}
	}
	return []model.ProbeStatus{
		{Type: "startup", Result: "success", Consecutive: 1, LatencyMs: 2.4, Message: "ok", LastTransition: now.Add(-49 * time.Second),
			Handler: "http GET :$PORT/healthz", LastProbe: now.Add(-49 * time.Second),
			LastFailure: &model.ProbeRun{Time: now.Add(-50 * time.Second), Result: "failure", LatencyMs: 0.12,
				Message: `Get "http://127.0.0.1:41234/healthz": dial tcp 127.0.0.1:41234: connect: connection refused`}},
		readiness,
		{Type: "liveness", Result: "success", Consecutive: 12, LatencyMs: 0.31, LastTransition: now.Add(-50 * time.Second),
			Handler: "tcp :$PORT", LastProbe: now.Add(-2 * time.Second)},
	}
}

func statusFixture(now time.Time) []model.Service {
	return []model.Service{
		{Project: "demo", Name: "web", Replicas: 2, Instances: []model.Instance{
			{Name: "web-7f9c-0", Status: model.StatusRunning, Ready: true, StartedAt: now.Add(-3*time.Minute - 20*time.Second),
				Limits: &model.LimitStatus{Memory: "256Mi", Reason: "no writable cgroup v2 hierarchy"},
				Probes: webProbes(now, false)},
			{Name: "web-7f9c-1", Status: model.StatusRunning, Restarts: 1, StartedAt: now.Add(-50 * time.Second),
				LastExit: &model.Exit{Code: -1, Signal: "SIGKILL", Reason: "OOMKilled", OOMKilled: true, Time: now.Add(-51 * time.Second)},
				Probes:   webProbes(now, true)},
		}},
		{Project: "demo", Name: "crashy", Replicas: 1, Instances: []model.Instance{
			{Name: "crashy-1a2b-0", Status: model.StatusCrashing, Restarts: 4, Backoff: "40s", NextRestart: now.Add(28 * time.Second),
				LastExit: &model.Exit{Code: 1, Reason: "Error", Time: now.Add(-12 * time.Second)}},
		}},
		{Project: "jobs", Name: "migrate", Replicas: 1, Instances: []model.Instance{
			{Name: "migrate-0c0c-0", Status: model.StatusFailed, LastExit: &model.Exit{Code: 2, Reason: "Error", Time: now.Add(-2 * time.Hour)}},
		}},
		{Project: "demo", Name: "idle", Replicas: 0},
		{Project: "demo", Name: "api", Replicas: 1, Instances: []model.Instance{
			{Name: "api-3c3c-0", Status: model.StatusRunning, Ready: true, Restarts: 2, StartedAt: now.Add(-2 * time.Hour),
				LastExit: &model.Exit{Code: 0, Reason: "LivenessProbeFailed", Time: now.Add(-2*time.Hour - time.Second)},
				Probes: []model.ProbeStatus{{Type: "liveness", Result: "success", Consecutive: 1, LatencyMs: 3, Handler: "grpc :9090",
					LastTransition: now.Add(-2 * time.Hour), LastProbe: now.Add(-10 * time.Second),
					LastFailure: &model.ProbeRun{Time: now.Add(-2*time.Hour - 5*time.Second), Result: "failure", Message: `service unhealthy (responded with "NOT_SERVING")`}}}},
		}},
	}
}

func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := renderStatus(&buf, statusFixture(now), now); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.golden", buf.Bytes())
}

// TestStatusOneService: `opshub status demo/web` adds each instance's
// probes with result, latency and last failure.
func TestStatusOneService(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := renderStatus(&buf, statusFixture(now)[:1], now); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-service.golden", buf.Bytes())
}

func TestProbesColumn(t *testing.T) {
	tests := []struct {
		probes []model.ProbeStatus
		want   string
	}{
		{nil, "-"},
		{[]model.ProbeStatus{{Result: "success"}, {Result: "failure"}, {Result: "success"}}, "2/3"},
		{[]model.ProbeStatus{{Result: "unknown"}}, "0/1"},
	}
	for _, tt := range tests {
		if got := probesColumn(model.Instance{Probes: tt.probes}); got != tt.want {
			t.Errorf("probesColumn(%v) = %q, want %q", tt.probes, got, tt.want)
		}
	}
}

func TestPickService(t *testing.T) {
	svcs := []model.Service{{Project: "a", Name: "web"}, {Project: "b", Name: "web"}, {Project: "a", Name: "db"}}
	if s, err := pickService(svcs, "db"); err != nil || s.Project != "a" {
		t.Errorf("db: %v %v", s, err)
	}
	if s, err := pickService(svcs, "b/web"); err != nil || s.Project != "b" {
		t.Errorf("b/web: %v %v", s, err)
	}
	if _, err := pickService(svcs, "web"); err == nil {
		t.Error("ambiguous name accepted")
	}
	if _, err := pickService(svcs, "nope"); err == nil {
		t.Error("unknown name accepted")
	}
}

// TestStatusShowsProbesEndToEnd runs `opshub run` with probed demo
// instances, makes one unready through the demo's own port, and checks that
// `opshub status demo/web` shows each probe's result, latency and the last
// failure message.
func TestStatusShowsProbesEndToEnd(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	api := sinktest.FreeAddr(t)
	cfg := demoConfig(t.TempDir(), api, bin, "", sinktest.FreePort(t), `    probes:
      startup: {http: {path: /healthz}, periodSeconds: 1, failureThreshold: 10}
      readiness: {http: {path: /ready}, periodSeconds: 1, failureThreshold: 1}
      liveness: {tcp: {}, periodSeconds: 1}
`)
	cfgPath := configFile(t, t.TempDir(), cfg)
	p := startOpshub(t, cfgPath, api)

	service := func() model.Service {
		resp, err := http.Get(p.api + "/api/v1/services/demo/web")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Services []model.Service }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Services) != 1 {
			t.Fatalf("services/demo/web: %v %+v", err, body)
		}
		return body.Services[0]
	}
	var web model.Service
	waitUntil(t, 20*time.Second, "two ready instances", func() bool {
		web = service()
		return len(web.Instances) == 2 && web.Instances[0].Ready && web.Instances[1].Ready
	})
	flaky := web.Instances[1]
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/control?ready=false", flaky.Port), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitUntil(t, 10*time.Second, "the instance unready", func() bool { return !service().Instances[1].Ready })
	if st := service().Instances[1].Probes[1]; st.Type != "readiness" || len(st.History) < 2 {
		t.Errorf("the single-service API lacks the run history: %+v", st)
	}

	out, err := exec.Command(filepath.Join(bin, "opshub"), "status", "demo/web", "--server", p.api).CombinedOutput()
	if err != nil {
		t.Fatalf("opshub status: %v\n%s", err, out)
	}
	text := string(out)
	lines := strings.Split(text, "\n")
	find := func(prefix string, words ...string) {
		t.Helper()
		for _, l := range lines {
			if !strings.Contains(l, prefix) {
				continue
			}
			ok := true
			for _, w := range words {
				ok = ok && strings.Contains(l, w)
			}
			if ok {
				return
			}
		}
		t.Errorf("no line with %q and %q in:\n%s", prefix, words, text)
	}
	find("SERVICE", "PROBES")
	find("demo/web", "1/2")
	find(flaky.Name, "Running (not ready)", "2/3")
	find(flaky.Name+": running but not ready", "Readiness probe failed: HTTP probe failed with statuscode: 503")
	find("Probes of demo/web:")
	find("readiness", "http GET :$PORT/ready", "failure (failed", "ms", "ago: HTTP probe failed with statuscode: 503")
	find("liveness", "tcp :$PORT", "success (passed", "ms")
	find("startup", "http GET :$PORT/healthz", "success (passed once)", "ms")
}

func TestStatusListsDisabledIntegrations(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var buf bytes.Buffer
	renderNotifications(&buf, []client.Integration{
		{Name: "ops-slack", Type: "slack", State: "active"},
		{Name: "ops-discord", Type: "discord", State: "disabled", Since: now.Add(-3 * time.Minute), Reason: "webhook returned 404: the webhook was deleted"},
		{Name: "pager", Type: "webhook", State: "active", Failures: 3},
	}, now)
	golden(t, "status-notifications.golden", buf.Bytes())
	buf.Reset()
	renderNotifications(&buf, []client.Integration{{Name: "ops-slack", Type: "slack", State: "active"}}, now)
	if buf.Len() != 0 {
		t.Errorf("healthy integrations are listed: %q", buf.String())
	}
}
