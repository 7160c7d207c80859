package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opshub/opshub/platform"
)

// recordingScaler remembers the scales it was asked for.
type recordingScaler struct{ calls []string }

func (r *recordingScaler) Scale(_ context.Context, project, name string, replicas int) error {
	if _, err := demo.Service(context.Background(), project, name); err != nil {
		return err
	}
	r.calls = append(r.calls, fmt.Sprintf("%s/%s=%d", project, name, replicas))
	return nil
}

func TestScaleService(t *testing.T) {
	scaler := &recordingScaler{}
	h := newTestServer(t, Options{
		Tokens: []Token{
			{Name: "ci", Value: "deploy-token", Scopes: []Scope{ScopeDeploy}},
			{Name: "viewer", Value: "read-token", Scopes: []Scope{ScopeRead}},
		},
		Scaler: scaler,
		Autoscaled: func(project, service string) (int, int, bool) {
			return 1, 5, project == "demo" && service == "web"
		},
	}).Handler()
	post := func(path, token, body string) (int, map[string]any) {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.RemoteAddr = "10.0.0.9:4000"
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}

	tests := []struct {
		name, path, token, body string
		code                    int
		field, warning          string
	}{
		{name: "a service without a policy is scaled without a warning", path: "/api/v1/services/demo/worker/scale", token: "deploy-token", body: `{"replicas": 3}`, code: 200},
		{name: "an autoscaled service is scaled with a warning", path: "/api/v1/services/demo/web/scale", token: "deploy-token", body: `{"replicas": 4}`, code: 200, warning: "autoscaling policy (min 1, max 5)"},
		{name: "to zero", path: "/api/v1/services/demo/worker/scale", token: "deploy-token", body: `{"replicas": 0}`, code: 200},
		{name: "a read token may not scale", path: "/api/v1/services/demo/worker/scale", token: "read-token", body: `{"replicas": 3}`, code: 403},
		{name: "replicas is required", path: "/api/v1/services/demo/worker/scale", token: "deploy-token", body: `{}`, code: 400, field: "replicas"},
		{name: "negative replicas", path: "/api/v1/services/demo/worker/scale", token: "deploy-token", body: `{"replicas": -1}`, code: 400, field: "replicas"},
		{name: "too many replicas", path: "/api/v1/services/demo/worker/scale", token: "deploy-token", body: `{"replicas": 1001}`, code: 400, field: "replicas"},
		{name: "unknown keys", path: "/api/v1/services/demo/worker/scale", token: "deploy-token", body: `{"replica": 2}`, code: 400, field: "replicas"},
		{name: "an unknown service", path: "/api/v1/services/demo/nope/scale", token: "deploy-token", body: `{"replicas": 2}`, code: 404, field: "service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := post(tc.path, tc.token, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, out)
			}
			if tc.field != "" && out["field"] != tc.field {
				t.Errorf("field = %v, want %s", out["field"], tc.field)
			}
			warning, _ := out["warning"].(string)
			if tc.warning == "" && warning != "" || !strings.Contains(warning, tc.warning) {
				t.Errorf("warning = %q, want one containing %q", warning, tc.warning)
			}
		})
	}
	want := []string{"demo/worker=3", "demo/web=4", "demo/worker=0"}
	if fmt.Sprint(scaler.calls) != fmt.Sprint(want) {
		t.Errorf("scaled %v, want %v", scaler.calls, want)
	}

	t.Run("the answer names what the service had", func(t *testing.T) {
		_, out := post("/api/v1/services/demo/web/scale", "deploy-token", `{"replicas": 3}`)
		if out["previous"] != 2.0 || out["replicas"] != 3.0 {
			t.Errorf("answer %v, want previous 2, replicas 3", out)
		}
	})
	t.Run("without a scaler the endpoint is not implemented", func(t *testing.T) {
		h := newTestServer(t, Options{}).Handler()
		req := httptest.NewRequest("POST", "/api/v1/services/demo/web/scale", strings.NewReader(`{"replicas": 1}`))
		req.RemoteAddr = "127.0.0.1:4000"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 501 {
			t.Errorf("status %d, want 501", rec.Code)
		}
	})
}

var _ Scaler = platform.Platform(nil)
