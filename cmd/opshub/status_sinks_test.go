package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func TestRenderSinks(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	list := []model.SinkStatus{
		{Name: "archive", Type: "file", State: model.SinkRunning, BufferMaxBytes: 1 << 30, Sent: 1200,
			LastDelivery: now.Add(-3 * time.Second), Validation: &model.SinkValidation{OK: true}},
		{Name: "grafana", Type: "loki", State: model.SinkFailing, BufferBytes: 3 << 19, BufferEvents: 4000, BufferMaxBytes: 1 << 30,
			Sent: 10, Retried: 50, LastError: "post batch: HTTP 503"},
		{Name: "hook", Type: "http", State: model.SinkPaused, BufferMaxBytes: 64 << 20, DeadLettered: 2},
		{Name: "old", Type: "file", State: model.SinkRunning, BufferBytes: 2048, BufferEvents: 20, BufferMaxBytes: 1 << 30,
			Removing: true, DrainUntil: now.Add(90 * time.Second)},
	}
	var out bytes.Buffer
	if err := renderSinks(&out, list, now); err != nil {
		t.Fatal(err)
	}
	want := `
Sinks:
  NAME     TYPE  STATE    BUFFER              SENT  RETRIED  DEAD-LETTERED  LAST DELIVERY  NOTE
  archive  file  running  0B/1GiB (0)         1200  0        0              3s ago         validation line delivered
  grafana  loki  failing  1.5MiB/1GiB (4000)  10    50       0              never          post batch: HTTP 503
  hook     http  paused   0B/64MiB (0)        0     0        2              never          -
  old      file  running  2KiB/1GiB (20)      0     0        0              never          removed by a config reload: delivers its buffer for 1m30s more at most
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	if err := renderSinks(&out, nil, now); err != nil || out.Len() != 0 {
		t.Fatalf("no sinks must print nothing, got %q", out.String())
	}
}

// statusAPI answers /api/v1/services with one service and
// /api/v1/sinks with sinks, or 404 when sinks is nil (a server that
// predates sinks).
func statusAPI(t *testing.T, sinks []model.SinkStatus) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"services": []model.Service{{Project: "demo", Name: "web", Replicas: 1}}})
	})
	if sinks != nil {
		mux.HandleFunc("GET /api/v1/sinks", func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"sinks": sinks})
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStatusJSONListsSinks: `opshub status -o json` carries the sinks as
// the table view does (name, type, state, buffer, last error, validation),
// leaves them out for one service, and says "sinks": [] when none is
// configured.
func TestStatusJSONListsSinks(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	list := []model.SinkStatus{
		{Name: "archive", Type: "file", State: model.SinkRunning, BufferMaxBytes: 1 << 30, Sent: 1200,
			LastDelivery: now.Add(-3 * time.Second), Validation: &model.SinkValidation{Time: now.Add(-time.Hour), OK: true}},
		{Name: "grafana", Type: "loki", State: model.SinkFailing, BufferBytes: 3 << 19, BufferEvents: 4000, BufferMaxBytes: 1 << 30,
			Sent: 10, Retried: 50, LastError: "post batch: HTTP 503",
			Validation: &model.SinkValidation{Time: now.Add(-time.Hour), Error: "post batch: HTTP 503"}},
		{Name: "hook", Type: "http", State: model.SinkPaused, BufferMaxBytes: 64 << 20, DeadLettered: 2},
	}
	code, stdout, stderr := runCLI(t, "status", "-o", "json", "--server", statusAPI(t, list))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "status-json.golden", []byte(stdout))

	tests := []struct {
		name      string
		sinks     []model.SinkStatus
		args      []string
		wantSinks string // the raw "sinks" value, or "" when the key must be absent
	}{
		{name: "no sink configured", sinks: []model.SinkStatus{}, wantSinks: "[]"},
		{name: "one service", sinks: list, args: []string{"demo/web"}},
		{name: "server without sinks", sinks: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"status", "-o", "json", "--server", statusAPI(t, tt.sinks)}, tt.args...)
			code, stdout, stderr := runCLI(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal([]byte(stdout), &body); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, stdout)
			}
			if _, ok := body["services"]; !ok {
				t.Errorf("no services in %s", stdout)
			}
			got, ok := body["sinks"]
			switch {
			case tt.wantSinks == "" && ok:
				t.Errorf("sinks listed: %s", got)
			case tt.wantSinks != "" && string(got) != tt.wantSinks:
				t.Errorf("sinks = %s, want %s", got, tt.wantSinks)
			}
		})
	}
}

// TestStatusSaysTheCollectorIsHeldByAFullDisk runs `opshub run` with its
// dataDir on a small tmpfs and an http sink whose receiver is down, and
// fills the tmpfs: `opshub status` says the collector does not read and
// why, the sink's note says its buffer cannot be written, and `-o json`
// carries both; once the space is back, the note is gone.
func TestStatusSaysTheCollectorIsHeldByAFullDisk(t *testing.T) {
	disk := sinktest.Tmpfs(t, "8m", false)
	root := t.TempDir()
	logDir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	down.Store(true)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}
	}))
	defer receiver.Close()
	api := sinktest.FreeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "opshub.yaml")
	cfg := fmt.Sprintf(`dataDir: %s
server: {listen: %q}
collector: {paths: [%s]}
sinks:
  - name: hook
    type: http
    url: %s
    encoding: json
    batch: {timeout: 50ms}
`, filepath.Join(disk, "data"), api, root, receiver.URL)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startOpshub(t, cfgPath, api)

	n := 0
	write := func() {
		f, err := os.OpenFile(filepath.Join(logDir, "0.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for range 20 {
			n++
			fmt.Fprintf(f, "%s stdout F line %d\n", time.Now().UTC().Format(time.RFC3339Nano), n)
		}
	}
	status := func() string {
		code, stdout, stderr := runCLI(t, "status", "--server", p.api)
		if code != exitOK {
			t.Fatalf("opshub status: exit %d: %s", code, stderr)
		}
		return stdout
	}
	write()
	sinktest.WaitFor(t, 30*time.Second, "the sink failing with a backlog", func() bool {
		return strings.Contains(status(), "hook  http  failing")
	})
	filler := sinktest.FillUp(t, disk)
	var text string
	sinktest.Eventually(t, 30*time.Second, "status saying the collector is held", func() error {
		write()
		if text = status(); !strings.Contains(text, "Collector: not reading log files for") {
			return fmt.Errorf("status:\n%s", text)
		}
		return nil
	})
	t.Logf("status while held:\n%s", text)
	for _, want := range []string{`sink "hook" cannot write its buffer`, "no space left on device", "it reads on by itself", "buffer cannot be written for"} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}
	code, stdout, stderr := runCLI(t, "status", "-o", "json", "--server", p.api)
	var body struct {
		Collector model.CollectorStatus
		Sinks     []model.SinkStatus
	}
	if err := json.Unmarshal([]byte(stdout), &body); code != exitOK || err != nil {
		t.Fatalf("status -o json: exit %d, %v: %s%s", code, err, stdout, stderr)
	}
	if body.Collector.State != model.CollectorHeld || body.Collector.Since.IsZero() || len(body.Sinks) != 1 || body.Sinks[0].BufferError == "" {
		t.Errorf("status -o json while held: %s", stdout)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	sinktest.Eventually(t, 30*time.Second, "status without the held collector", func() error {
		if text = status(); strings.Contains(text, "Collector:") || strings.Contains(text, "buffer cannot be written") || !strings.Contains(text, "hook  http  running") {
			return fmt.Errorf("status:\n%s", text)
		}
		return nil
	})
}
