package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// alertsAPI answers the alerting endpoints with canned bodies.
func alertsAPI(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"alerts": [{"id": "evt_1", "event": "container.crashloop", "status": "firing", "project": "demo", "service": "web", "instance": "web-1", "since": "2026-11-24T10:00:00Z", "summary": "web-1 restarted 3 times in 10m"}]}`))
	})
	mux.HandleFunc("GET /api/v1/deliveries", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"deliveries": [{"id": "dlv_000000000001", "integration": "chat", "event": "container.crashloop", "state": "failed", "attempts": 1, "lastStatus": 404, "time": "2026-11-24T10:00:00Z", "lastError": "discord webhook answered 404"}],
 "integrations": [{"name": "chat", "type": "discord", "state": "disabled", "reason": "destination is gone: discord webhook answered 404"}]}`))
	})
	mux.HandleFunc("POST /api/v1/deliveries/{id}/resend", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "dlv_000000000001" {
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error": "no such delivery", "field": "id"}`))
			return
		}
		w.WriteHeader(202)
		_, _ = w.Write([]byte(`{"delivery": {"id": "dlv_000000000002", "integration": "chat", "state": "pending"}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAlertsCommands(t *testing.T) {
	srv := alertsAPI(t)
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"alerts table", []string{"alerts"}, exitOK, []string{"firing", "container.crashloop", "demo/web/web-1", "restarted 3 times", "integration chat (discord) is DISABLED: destination is gone"}},
		{"alerts json", []string{"alerts", "-o", "json"}, exitOK, []string{`"event": "container.crashloop"`}},
		{"deliveries show a disabled integration and why", []string{"deliveries"}, exitOK, []string{"chat", "DISABLED", "destination is gone", "dlv_000000000001", "404"}},
		{"resend", []string{"deliveries", "resend", "dlv_000000000001"}, exitOK, []string{"queued dlv_000000000002 to chat"}},
		{"resend of an unknown id fails", []string{"deliveries", "resend", "dlv_9"}, exitFailure, []string{"no such delivery"}},
		{"resend needs an id", []string{"deliveries", "resend"}, exitUsage, []string{"accepts 1 arg"}},
		{"bad output format", []string{"alerts", "-o", "yaml"}, exitUsage, []string{"unknown output format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := execute(context.Background(), append([]string{"--server", srv.URL}, tt.args...), &out, &errOut)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.code, errOut.String())
			}
			all := out.String() + errOut.String()
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
		})
	}
}
