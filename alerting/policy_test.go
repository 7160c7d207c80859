package alerting

import (
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestSilences(t *testing.T) {
	until := t0.Add(time.Hour)
	ev := model.Event{Name: model.EventContainerCrash, Project: "demo", Service: "web", Instance: "web-1", Data: map[string]any{"container": "web"}}
	tests := []struct {
		name     string
		matchers map[string]string
		now      time.Time
		want     bool
	}{
		{"project matches", map[string]string{"project": "demo"}, t0, true},
		{"every matcher must match", map[string]string{"project": "demo", "service": "api"}, t0, false},
		{"event prefix matches", map[string]string{"event": "container.*"}, t0, true},
		{"other event does not", map[string]string{"event": "volume.*"}, t0, false},
		{"container matches", map[string]string{"container": "web"}, t0, true},
		{"an expired silence mutes nothing", map[string]string{"project": "demo"}, until, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := silenced([]Silence{{Matchers: tt.matchers, Until: until}}, ev, tt.now)
			if got != tt.want {
				t.Errorf("silenced = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	ev := model.Event{Name: model.EventVolumeUsage, Status: model.StatusFiring, Project: "demo", Service: "db"}
	tests := []struct {
		name  string
		route Route
		want  bool
	}{
		{"no filter takes everything", Route{}, true},
		{"prefix filter", Route{Events: []string{"volume.*"}}, true},
		{"exact filter of another event", Route{Events: []string{"container.crashloop"}}, false},
		{"project filter", Route{Projects: []string{"other"}}, false},
		{"service filter", Route{Services: []string{"db"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.route.Matches(ev); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestThrottleWindows(t *testing.T) {
	tests := []struct {
		name   string
		last   time.Time
		window time.Duration
		now    time.Time
		want   bool
	}{
		{"first notification", time.Time{}, time.Hour, t0, true},
		{"inside the window", t0, time.Hour, t0.Add(59 * time.Minute), false},
		{"at the end of the window", t0, time.Hour, t0.Add(time.Hour), true},
		{"0s means no throttling", t0, 0, t0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := throttleAllows(tt.last, tt.window, tt.now); got != tt.want {
				t.Errorf("throttleAllows = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	p := RetryPolicy{Initial: time.Second, Max: time.Minute}
	tests := []struct {
		name       string
		attempts   int
		retryAfter time.Duration
		jitter     float64
		want       time.Duration
	}{
		{"first back-off", 1, 0, 1, time.Second},
		{"doubles", 3, 0, 1, 4 * time.Second},
		{"capped", 20, 0, 1, time.Minute},
		{"jitter scales", 2, 0, 0.8, 1600 * time.Millisecond},
		{"Retry-After is a floor", 1, 1500 * time.Millisecond, 0.8, 1500 * time.Millisecond},
		{"longer back-off wins over a short Retry-After", 4, 2 * time.Second, 1, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.nextAttempt(t0, tt.attempts, tt.retryAfter, tt.jitter).Sub(t0); got != tt.want {
				t.Errorf("wait %s, want %s", got, tt.want)
			}
		})
	}
}
