package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

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

func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	svcs := []model.Service{
		{Project: "demo", Name: "web", Replicas: 2, Instances: []model.Instance{
			{Name: "web-7f9c-0", Status: model.StatusRunning, Ready: true, StartedAt: now.Add(-3*time.Minute - 20*time.Second),
				Limits: &model.LimitStatus{Memory: "256Mi", Reason: "no writable cgroup v2 hierarchy"}},
			{Name: "web-7f9c-1", Status: model.StatusRunning, Ready: true, Restarts: 1, StartedAt: now.Add(-50 * time.Second),
				LastExit: &model.Exit{Code: -1, Signal: "SIGKILL", Reason: "OOMKilled", OOMKilled: true, Time: now.Add(-51 * time.Second)}},
		}},
		{Project: "demo", Name: "crashy", Replicas: 1, Instances: []model.Instance{
			{Name: "crashy-1a2b-0", Status: model.StatusCrashing, Restarts: 4, Backoff: "40s", NextRestart: now.Add(28 * time.Second),
				LastExit: &model.Exit{Code: 1, Reason: "Error", Time: now.Add(-12 * time.Second)}},
		}},
		{Project: "jobs", Name: "migrate", Replicas: 1, Instances: []model.Instance{
			{Name: "migrate-0c0c-0", Status: model.StatusFailed, LastExit: &model.Exit{Code: 2, Reason: "Error", Time: now.Add(-2 * time.Hour)}},
		}},
		{Project: "demo", Name: "idle", Replicas: 0},
	}
	var buf bytes.Buffer
	if err := renderStatus(&buf, svcs, now); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.golden", buf.Bytes())
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{45 * time.Second, "45s"},
		{3*time.Minute + 20*time.Second, "3m20s"},
		{12*time.Minute + 5*time.Second, "12m"},
		{5*time.Hour + 10*time.Minute, "5h10m"},
		{26 * time.Hour, "26h"},
		{76 * time.Hour, "3d4h"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
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
