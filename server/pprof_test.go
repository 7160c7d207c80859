package server

import (
	"strings"
	"testing"
)

// The runtime's profiles are served only when server.pprof is on, and
// then only to tokens with the admin scope.
func TestPprofOffByDefaultAndAdminOnly(t *testing.T) {
	tokens := []Token{
		{Name: "ci", Value: "d", Scopes: []Scope{ScopeRead, ScopeDeploy}},
		{Name: "root", Value: "a", Scopes: []Scope{ScopeAdmin}},
	}
	heap := "/debug/pprof/heap?debug=1"
	off := newTestServer(t, Options{Tokens: tokens, UI: true}).Handler()
	if rec := do(t, off, "GET", heap, "10.0.0.9:5555", "a"); strings.Contains(rec.Body.String(), "heap profile") {
		t.Fatalf("without server.pprof the heap profile was served: %d", rec.Code)
	}
	if rec := do(t, off, "GET", "/debug/pprof/", "127.0.0.1:5555", ""); strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("without server.pprof the profiles' index was served to a loopback client: %d %s", rec.Code, rec.Body)
	}

	on := newTestServer(t, Options{Tokens: tokens, UI: true, Pprof: true}).Handler()
	if rec := do(t, on, "GET", heap, "10.0.0.9:5555", "a"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "heap profile") {
		t.Fatalf("admin token: %d %.200s, want the heap profile", rec.Code, rec.Body)
	}
	if rec := do(t, on, "GET", "/debug/pprof/", "10.0.0.9:5555", "a"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "goroutine") {
		t.Fatalf("admin token, index: %d %.200s", rec.Code, rec.Body)
	}
	for _, tt := range []struct {
		name, token string
		code        int
	}{{"a token without the admin scope", "d", 403}, {"no token", "", 401}, {"a wrong token", "x", 401}} {
		if rec := do(t, on, "GET", heap, "10.0.0.9:5555", tt.token); rec.Code != tt.code {
			t.Errorf("%s: %d %.200s, want %d", tt.name, rec.Code, rec.Body, tt.code)
		}
	}
}
