package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReloadCommand(t *testing.T) {
	answer := func(code int, body string) string {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /api/v1/config/reload", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	applied := answer(200, `{"reload": {"file": "/etc/opshub.yaml", "applied": true,
 "sinks": {"added": ["archive"], "removed": ["old"], "changed": ["hook"], "unchanged": ["grafana"],
  "validation": {"archive": {"ok": true}, "hook": {"ok": false, "error": "post batch: HTTP 401"}}},
 "restartRequired": ["workloads", "server.listen"]}}`)
	refused := answer(422, `{"error": "/etc/opshub.yaml: 2 errors; the running config is kept", "reload": {"file": "/etc/opshub.yaml",
 "errors": [{"file": "/etc/opshub.yaml", "line": 12, "path": "sinks[0].type", "message": "unknown sink type \"lokki\""},
            {"file": "/etc/opshub.yaml", "line": 15, "path": "sinks[1].bogus", "message": "unknown key"}]}}`)
	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    []string
		wantStderr []string
	}{
		{name: "applied", args: []string{"--server", applied, "reload"}, code: exitOK, wantOut: []string{
			"reloaded /etc/opshub.yaml\n",
			"sinks: added archive (validation line delivered); restarted hook with its new settings (validation line failed: post batch: HTTP 401); removed old (it delivers what its buffer holds, then stops); 1 unchanged\n",
			"changed, applied at the next restart: workloads, server.listen\n",
		}},
		{name: "applied as JSON", args: []string{"--server", applied, "reload", "-o", "json"}, code: exitOK, wantOut: []string{`"restartRequired": [`}},
		{name: "refused", args: []string{"--server", refused, "reload"}, code: exitFailure, wantStderr: []string{
			"/etc/opshub.yaml:12: sinks[0].type: unknown sink type \"lokki\"\n/etc/opshub.yaml:15: sinks[1].bogus: unknown key\nopshub: /etc/opshub.yaml: 2 errors; the running config is kept\n",
		}},
		{name: "bad output format", args: []string{"--server", applied, "reload", "-o", "yaml"}, code: exitUsage, wantStderr: []string{"unknown output format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
