package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
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

// TestSIGHUPReloadsTheConfig runs the real binary: SIGHUP applies a new
// file sink, and `opshub reload` with a broken file prints each error with
// its line, exits 1, and leaves opshub running as it was.
func TestSIGHUPReloadsTheConfig(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	api := sinktest.FreeAddr(t)
	head := fmt.Sprintf(`dataDir: %s
server: {listen: %q}
workloads:
  - name: logger
    project: demo
    command: [%s/opshub-demo, --no-http, --log-rate, "20"]
sinks:
`, filepath.Join(dir, "data"), api, bin)
	path := filepath.Join(dir, "opshub.yaml")
	write := func(sinks string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(head+sinks), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first, second := filepath.Join(dir, "first.ndjson"), filepath.Join(dir, "second.ndjson")
	write(fmt.Sprintf("  - {name: first, type: file, path: %s, batch: {timeout: 20ms}}\n", first))
	p := startOpshub(t, path, api)

	write(fmt.Sprintf("  - {name: first, type: file, path: %s, batch: {timeout: 20ms}}\n  - {name: second, type: file, path: %s, batch: {timeout: 20ms}}\n", first, second))
	p.Signal(t, syscall.SIGHUP)
	waitUntil(t, 30*time.Second, "the second sink's validation line and the logger's lines", func() bool {
		data, _ := os.ReadFile(second)
		return strings.Contains(string(data), "opshub.dev/validation") && strings.Contains(string(data), `"service":"logger"`)
	})

	write("  - {name: first, type: file, path: " + first + ", batch: {timeout: 20ms}}\n  - {name: second, type: lokki}\n")
	code, stdout, stderr := runCLI(t, "--server", p.api, "reload")
	if code != exitFailure || !strings.Contains(stderr, path+":9: sinks[1].type: unknown sink type \"lokki\"") ||
		!strings.Contains(stderr, "1 error; the running config is kept") {
		t.Fatalf("reload of a broken file: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "--server", p.api, "status", "-o", "json")
	if code != exitOK || !strings.Contains(stdout, `"name": "second"`) {
		t.Fatalf("status after a refused reload: exit %d\n%s%s", code, stdout, stderr)
	}
}
