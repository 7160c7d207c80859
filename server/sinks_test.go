package server

import (
	"fmt"
	"testing"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// fakeSinks holds one sink whose pause state the API flips.
type fakeSinks struct{ paused bool }

func (f *fakeSinks) Sinks() []model.SinkStatus {
	st := model.SinkStatus{Name: "grafana", Type: "loki", State: model.SinkRunning, BufferBytes: 42, BufferMaxBytes: 1 << 30}
	if f.paused {
		st.State = model.SinkPaused
	}
	return []model.SinkStatus{st}
}

func (f *fakeSinks) set(name string, p bool) error {
	if name != "grafana" {
		return fmt.Errorf("%w %q", sinks.ErrUnknownSink, name)
	}
	f.paused = p
	return nil
}

func (f *fakeSinks) Pause(name string) error  { return f.set(name, true) }
func (f *fakeSinks) Resume(name string) error { return f.set(name, false) }

func TestSinksAPI(t *testing.T) {
	fake := &fakeSinks{}
	h := newTestServer(t, Options{Sinks: fake, Tokens: []Token{
		{Name: "viewer", Value: "r", Scopes: []Scope{ScopeRead}},
		{Name: "ci", Value: "d", Scopes: []Scope{ScopeRead, ScopeDeploy}},
	}}).Handler()
	tests := []struct {
		name, method, path, token string
		code                      int
		want                      string
	}{
		{"list shows state and buffer", "GET", "/api/v1/sinks", "r", 200, "sinks.0.bufferBytes=42"},
		{"pausing needs the deploy scope", "POST", "/api/v1/sinks/grafana/pause", "r", 403, ""},
		{"pause answers the paused sink", "POST", "/api/v1/sinks/grafana/pause", "d", 200, "sink.state=paused"},
		{"the list says paused", "GET", "/api/v1/sinks", "r", 200, "sinks.0.state=paused"},
		{"resume", "POST", "/api/v1/sinks/grafana/resume", "d", 200, "sink.state=running"},
		{"an unknown sink is 404", "POST", "/api/v1/sinks/nope/pause", "d", 404, "field=name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectAnswer(t, do(t, h, tt.method, tt.path, "10.0.0.9:5555", tt.token), tt.code, tt.want)
		})
	}
}

func TestSinksAPIWithoutSinks(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	rec := do(t, h, "GET", "/api/v1/sinks", "127.0.0.1:5555", "")
	if rec.Code != 200 || rec.Body.String() != "{\n  \"sinks\": []\n}\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
}
