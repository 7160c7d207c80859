package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAttention: GET /api/v1/attention lists what `opshub status` prints
// under "Needs attention".
func TestAttention(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	rec := do(t, h, "GET", "/api/v1/attention", "127.0.0.1:5555", "")
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var body struct {
		Attention []struct{ Project, Service, Instance, Reason string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Attention) != 1 || body.Attention[0].Instance != "worker-1a2b-0" ||
		!strings.HasPrefix(body.Attention[0].Reason, "crashing, restarted 3 times") {
		t.Fatalf("attention = %+v, want the crashing worker only", body.Attention)
	}
}

// TestUIBesideTheAPI: with tokens, the page loads without one (it holds
// no data and asks for a token), while the API still refuses; page paths
// of every view answer the page, and without UI nothing is served at /.
func TestUIBesideTheAPI(t *testing.T) {
	h := newTestServer(t, Options{UI: true, Tokens: []Token{{Name: "ro", Value: "secret", Scopes: []Scope{ScopeRead}}}}).Handler()
	for _, path := range []string{"/", "/services/demo/web/logs?instance=web-0", "/alerts"} {
		rec := do(t, h, "GET", path, "10.0.0.1:5555", "")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<div id="app">`) {
			t.Errorf("GET %s: status %d, body %.100s; want the page", path, rec.Code, rec.Body)
		}
	}
	if rec := do(t, h, "GET", "/api/v1/services", "10.0.0.1:5555", ""); rec.Code != 401 {
		t.Errorf("API without a token: status %d, want 401", rec.Code)
	}
	if rec := do(t, h, "POST", "/", "127.0.0.1:5555", ""); rec.Code != 405 {
		t.Errorf("POST /: status %d, want 405", rec.Code)
	}
	if rec := do(t, h, "GET", "/healthz", "127.0.0.1:5555", ""); rec.Body.String() != "ok\n" {
		t.Errorf("/healthz = %q, the UI must not shadow it", rec.Body)
	}
	off := newTestServer(t, Options{}).Handler()
	if rec := do(t, off, "GET", "/", "127.0.0.1:5555", ""); rec.Code != 404 {
		t.Errorf("GET / without UI: status %d, want 404", rec.Code)
	}
}
