package triage

import (
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

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
		if got := HumanDuration(tt.d); got != tt.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestServices: what `opshub status`, GET /api/v1/attention and the UI list
// under "Needs attention", one line per instance or service.
func TestServices(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	svcs := []model.Service{
		{Project: "demo", Name: "web", Replicas: 2, Instances: []model.Instance{
			{Name: "web-0", Status: model.StatusRunning, Ready: true},
			{Name: "web-1", Status: model.StatusRunning, Restarts: 1,
				LastExit: &model.Exit{Code: -1, Signal: "SIGKILL", Reason: "OOMKilled", Time: now.Add(-51 * time.Second)}},
		}},
		{Project: "demo", Name: "crashy", Replicas: 1, Instances: []model.Instance{
			{Name: "crashy-0", Status: model.StatusCrashing, Restarts: 4, LastExit: &model.Exit{Code: 1, Reason: "Error", Time: now.Add(-12 * time.Second)}},
		}},
		{Project: "demo", Name: "gone", Replicas: 1},
		{Project: "demo", Name: "idle", Replicas: 0},
	}
	want := []string{
		"demo/web web-1: running but not ready; restarted once, last 51s ago; last exit SIGKILL (OOMKilled)",
		"demo/crashy crashy-0: crashing, restarted 4 times; last exit code 1 (Error)",
		"demo/gone: no instances, 1 wanted",
	}
	got := Services(svcs, now)
	if len(got) != len(want) {
		t.Fatalf("got %d items %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("item %d = %q, want %q", i, got[i].String(), want[i])
		}
	}
}
