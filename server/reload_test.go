package server

import (
	"context"
	"errors"
	"testing"

	"github.com/opshub/opshub/model"
)

// fakeReloader applies or refuses, as the test sets it.
type fakeReloader struct{ refuse bool }

func (f *fakeReloader) Reload(context.Context) (model.ConfigReload, error) {
	if f.refuse {
		return model.ConfigReload{File: "opshub.yaml", Errors: []model.ConfigProblem{{File: "opshub.yaml", Line: 3, Path: "sinks[0].type", Message: "unknown sink type"}}},
			errors.New("opshub.yaml: 1 error; the running config is kept")
	}
	return model.ConfigReload{File: "opshub.yaml", Applied: true, Sinks: &model.SinkChanges{Added: []string{"archive"}}, RestartRequired: []string{"workloads"}}, nil
}

func TestConfigReloadAPI(t *testing.T) {
	fake := &fakeReloader{}
	tokens := []Token{
		{Name: "ci", Value: "d", Scopes: []Scope{ScopeRead, ScopeDeploy}},
		{Name: "root", Value: "a", Scopes: []Scope{ScopeAdmin}},
	}
	h := newTestServer(t, Options{Reloader: fake, Tokens: tokens}).Handler()
	tests := []struct {
		name, token string
		refuse      bool
		code        int
		want        string
	}{
		{"needs the admin scope", "d", false, 403, ""},
		{"applied", "a", false, 200, "reload.sinks.added.0=archive"},
		{"names what needs a restart", "a", false, 200, "reload.restartRequired.0=workloads"},
		{"refused with the line of each error", "a", true, 422, "reload.errors.0.line=3"},
		{"a refusal says the running config is kept", "a", true, 422, "error=opshub.yaml: 1 error; the running config is kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.refuse = tt.refuse
			expectAnswer(t, do(t, h, "POST", "/api/v1/config/reload", "10.0.0.9:5555", tt.token), tt.code, tt.want)
		})
	}

	rec := do(t, newTestServer(t, Options{}).Handler(), "POST", "/api/v1/config/reload", "127.0.0.1:5555", "")
	if rec.Code != 404 {
		t.Fatalf("without a reloader: %d %s", rec.Code, rec.Body)
	}
}
