package sinks

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestAppendJSONIsTheContractRecord(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name string
		rec  model.LogRecord
		want string
	}{
		{
			name: "the contract's example",
			rec: model.LogRecord{Time: ts, Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-7f9c-2", Container: "web"},
				Stream: "stdout", Log: "GET / 200", Labels: model.Labels{"app": "web"}},
			want: `{"ts":"2026-11-24T10:00:00.123456789Z","project":"demo","service":"web","instance":"web-7f9c-2","container":"web","stream":"stdout","log":"GET / 200","labels":{"app":"web"}}`,
		},
		{
			name: "quotes, control characters, HTML and invalid UTF-8 are escaped",
			rec:  model.LogRecord{Time: ts, Stream: "stderr", Log: "say \"hi\"\n\t\x01<b>&\xff\u2028é", Truncated: true},
			want: `{"ts":"2026-11-24T10:00:00.123456789Z","stream":"stderr","log":"say \"hi\"\n\t\u0001\u003cb\u003e\u0026\ufffd\u2028é","truncated":true}`,
		},
		{
			name: "labels sorted, times in UTC",
			rec:  model.LogRecord{Time: ts.In(time.FixedZone("x", 3600)), Stream: "stdout", Log: "", Labels: model.Labels{"b": "2", "a": "1"}},
			want: `{"ts":"2026-11-24T10:00:00.123456789Z","stream":"stdout","log":"","labels":{"a":"1","b":"2"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendJSON(nil, tt.rec))
			if got != tt.want {
				t.Fatalf("AppendJSON\n got %s\nwant %s", got, tt.want)
			}
			rec := tt.rec
			rec.Time = rec.Time.UTC()
			std, _ := json.Marshal(rec)
			if string(std) != got {
				t.Errorf("differs from encoding/json:\n ours %s\n std  %s", got, std)
			}
		})
	}
}

func TestAppendText(t *testing.T) {
	rec := model.LogRecord{Time: time.Date(2026, 11, 24, 10, 0, 0, 5e8, time.UTC), Stream: "stderr", Log: "boom"}
	if got, want := string(AppendText(nil, rec)), "2026-11-24T10:00:00.5Z stderr boom"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestFilterSelectsRecords(t *testing.T) {
	rec := model.LogRecord{Ref: model.Ref{Project: "demo", Service: "web", Container: "app"}, Stream: "stdout", Log: "GET /healthz 200"}
	tests := []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"empty filter takes all", Filter{}, true},
		{"listed project", Filter{Projects: []string{"other", "demo"}}, true},
		{"other project", Filter{Projects: []string{"other"}}, false},
		{"other service", Filter{Services: []string{"api"}}, false},
		{"other container", Filter{Containers: []string{"sidecar"}}, false},
		{"stderr only", Filter{Streams: []string{"stderr"}}, false},
		{"include matches", Filter{Include: "GET"}, true},
		{"include does not match", Filter{Include: "POST"}, false},
		{"exclude matches", Filter{Exclude: "healthz"}, false},
		{"exclude does not match", Filter{Exclude: "metrics"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := compileFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.match(&rec); got != tt.want {
				t.Fatalf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryPolicyWait(t *testing.T) {
	p := RetryPolicy{Initial: time.Second, Max: 8 * time.Second}
	low := func() float64 { return 0 }
	high := func() float64 { return 0.999999 }
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		rnd        func() float64
		min, max   time.Duration
	}{
		{"first failure waits half to one step", 1, 0, low, 500 * time.Millisecond, 500 * time.Millisecond},
		{"first failure, most jitter", 1, 0, high, 999 * time.Millisecond, time.Second},
		{"steps double", 3, 0, low, 2 * time.Second, 2 * time.Second},
		{"capped at max", 10, 0, high, 7999 * time.Millisecond, 8 * time.Second},
		{"Retry-After wins when longer", 1, 2 * time.Second, high, 2 * time.Second, 2 * time.Second},
		{"back-off wins when longer", 5, 2 * time.Second, high, 7999 * time.Millisecond, 8 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Wait(tt.attempt, tt.retryAfter, tt.rnd)
			if got < tt.min || got > tt.max {
				t.Fatalf("Wait = %s, want between %s and %s", got, tt.min, tt.max)
			}
		})
	}
}
