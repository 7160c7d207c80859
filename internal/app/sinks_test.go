package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// TestConfiguredSinksDeliver: a config's file sink, with its filter and
// batch settings, receives the records the router is handed.
func TestConfiguredSinksDeliver(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "logs.ndjson")
	cfgText := `
dataDir: ` + filepath.Join(dir, "data") + `
platform: {kind: local}
sinks:
  - name: archive
    type: file
    path: ` + out + `
    filter: {streams: [stderr], exclude: healthz}
    batch: {timeout: 10ms}
`
	cfg, err := ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	router, err := newSinks(cfg, prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	recs := []model.LogRecord{
		{Time: ts, Stream: "stdout", Log: "not for this sink"},
		{Time: ts, Stream: "stderr", Log: "GET /healthz"},
		{Time: ts, Stream: "stderr", Log: "boom"},
	}
	if err := router.Send(ctx, sinks.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(out)
		if strings.Contains(string(data), `"log":"boom"`) {
			if strings.Contains(string(data), "healthz") || strings.Contains(string(data), "not for this sink") {
				t.Fatalf("filtered records reached the file:\n%s", data)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record never reached the file; it holds %q", data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := router.Sinks(); len(st) != 1 || st[0].Name != "archive" || st[0].Validation == nil || !st[0].Validation.OK {
		t.Fatalf("status %+v", st)
	}
}
