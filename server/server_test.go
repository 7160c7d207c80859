package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// fixedServices is a ServiceReader over a fixed list; the server only reads
// through this interface, so a list is all it needs.
type fixedServices []model.Service

func (f fixedServices) Services(context.Context) ([]model.Service, error) {
	return append([]model.Service(nil), f...), nil
}

func (f fixedServices) Service(_ context.Context, project, name string) (model.Service, error) {
	for _, s := range f {
		if s.Project == project && s.Name == name {
			return s, nil
		}
	}
	return model.Service{}, fmt.Errorf("service %s/%s: %w", project, name, platform.ErrNotFound)
}

var demo = fixedServices{
	{Project: "demo", Name: "web", Replicas: 2, Instances: []model.Instance{
		{Name: "web-7f9c-0", Container: "web", Status: model.StatusRunning, Ready: true},
		{Name: "web-7f9c-1", Container: "web", Status: model.StatusRunning, Ready: true},
	}},
	{Project: "demo", Name: "worker", Replicas: 1, Instances: []model.Instance{
		{Name: "worker-1a2b-0", Container: "worker", Status: model.StatusCrashing, Restarts: 3,
			LastExit: &model.Exit{Code: 1, Reason: "Error"}},
	}},
}

func newTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Services == nil {
		opts.Services = demo
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func do(t *testing.T, h http.Handler, method, path, remote, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServicesListing(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	rec := do(t, h, "GET", "/api/v1/services", "127.0.0.1:5555", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body struct {
		Services []struct {
			Project, Name string
			Replicas      int
			Instances     []map[string]any
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Services) != 2 || body.Services[0].Name != "web" || len(body.Services[0].Instances) != 2 {
		t.Fatalf("unexpected body: %s", rec.Body)
	}
	inst := body.Services[1].Instances[0]
	for _, key := range []string{"name", "container", "status", "ready", "restarts", "lastExit", "probes"} {
		if _, ok := inst[key]; !ok {
			t.Errorf("instance JSON lacks %q: %v", key, inst)
		}
	}
	if probes, ok := inst["probes"].([]any); !ok || len(probes) != 0 {
		t.Errorf("probes should be an empty list, got %#v", inst["probes"])
	}
}

func TestSingleService(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	tests := []struct {
		name, path string
		code       int
		contains   string
	}{
		{"found", "/api/v1/services/demo/worker", 200, `"worker-1a2b-0"`},
		{"unknown service", "/api/v1/services/demo/nope", 404, `"field": "service"`},
		{"unknown endpoint", "/api/v1/nothing", 404, `no API endpoint GET /api/v1/nothing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, h, "GET", tt.path, "127.0.0.1:1", "")
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("GET %s = %d %s; want %d containing %s", tt.path, rec.Code, rec.Body, tt.code, tt.contains)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	open := newTestServer(t, Options{}).Handler()
	withTokens := newTestServer(t, Options{Tokens: []Token{
		{Name: "ci", Value: "s3cret-ci", Scopes: []Scope{ScopeRead, ScopeDeploy}},
		{Name: "deployer", Value: "s3cret-deploy", Scopes: []Scope{ScopeDeploy}},
		{Name: "root", Value: "s3cret-admin", Scopes: []Scope{ScopeAdmin}},
	}}).Handler()
	tests := []struct {
		name     string
		h        http.Handler
		remote   string
		token    string
		path     string
		code     int
		contains string
	}{
		{"no tokens, loopback v4", open, "127.0.0.1:40000", "", "/api/v1/services", 200, "services"},
		{"no tokens, loopback v6", open, "[::1]:40000", "", "/api/v1/services", 200, "services"},
		{"no tokens, remote client refused", open, "10.1.2.3:40000", "", "/api/v1/services", 403, "only loopback clients"},
		{"no tokens, remote metrics refused", open, "10.1.2.3:40000", "", "/metrics", 403, "only loopback"},
		{"health needs no auth", withTokens, "10.1.2.3:40000", "", "/healthz", 200, "ok"},
		{"ready needs no auth", withTokens, "10.1.2.3:40000", "", "/readyz", 200, "ok"},
		{"tokens, none sent", withTokens, "127.0.0.1:1", "", "/api/v1/services", 401, "missing bearer token"},
		{"tokens, wrong token", withTokens, "10.1.2.3:1", "nope", "/api/v1/services", 401, "invalid bearer token"},
		{"tokens, read scope", withTokens, "10.1.2.3:1", "s3cret-ci", "/api/v1/services", 200, "services"},
		{"tokens, lacking read scope", withTokens, "10.1.2.3:1", "s3cret-deploy", "/api/v1/services", 403, `lacks the \"read\" scope`},
		{"tokens, admin implies read", withTokens, "10.1.2.3:1", "s3cret-admin", "/api/v1/services", 200, "services"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(t, tt.h, "GET", tt.path, tt.remote, tt.token)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Fatalf("got %d %q; want %d containing %q", rec.Code, rec.Body, tt.code, tt.contains)
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestReadyzReportsReason(t *testing.T) {
	h := newTestServer(t, Options{Ready: func() (bool, string) { return false, "runtime starting" }}).Handler()
	rec := do(t, h, "GET", "/readyz", "127.0.0.1:1", "")
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "runtime starting") {
		t.Fatalf("got %d %q", rec.Code, rec.Body)
	}
}

func TestMetricsExposeRequestCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newTestServer(t, Options{Gatherer: reg, Registerer: reg}).Handler()
	do(t, h, "GET", "/api/v1/services", "127.0.0.1:1", "")
	rec := do(t, h, "GET", "/metrics", "127.0.0.1:1", "")
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), `opshub_http_requests_total{code="200",handler="services"} 1`) {
		t.Fatalf("metrics: %d\n%s", rec.Code, body)
	}
}

func TestServeShutsDownWithContext(t *testing.T) {
	s := newTestServer(t, Options{Listen: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v after cancel", err)
	}
}
