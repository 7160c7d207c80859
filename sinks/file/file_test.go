package file

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func newSink(t *testing.T, encoding, raw string) sinks.Destination {
	return plugintest.NewSink(t, Plugin, sinks.Spec{Name: "archive", Type: "file", Encoding: encoding}, raw)
}

func record(i int) model.LogRecord {
	return model.LogRecord{
		Time: time.Date(2026, 11, 24, 10, 0, i, 0, time.UTC), Ref: model.Ref{Project: "demo", Service: "web"},
		Stream: "stdout", Log: fmt.Sprintf("line %03d", i), Labels: model.Labels{"app": "web"},
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestWritesContractRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "out.ndjson")
	d := newSink(t, "", "{path: "+path+"}")
	if err := d.Deliver(context.Background(), []model.LogRecord{record(0), record(1)}); err != nil {
		t.Fatal(err)
	}
	got := lines(t, path)
	want := `{"ts":"2026-11-24T10:00:00Z","project":"demo","service":"web","stream":"stdout","log":"line 000","labels":{"app":"web"}}`
	if len(got) != 2 || got[0] != want {
		t.Fatalf("file holds %q, want first line %s", got, want)
	}
	var rec model.LogRecord
	if err := json.Unmarshal([]byte(got[1]), &rec); err != nil || rec.Log != "line 001" {
		t.Fatalf("second line %q: %v", got[1], err)
	}
}

func TestRotatesKeepingMaxFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.log")
	// Each text line is 37 bytes: three fit in 120.
	d := newSink(t, "text", "{path: "+path+", maxBytes: 120, maxFiles: 3}")
	for i := range 12 {
		if err := d.Deliver(context.Background(), []model.LogRecord{record(i)}); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(path + "*")
	if len(files) != 3 {
		t.Fatalf("files %v, want 3 (current and two rotated)", files)
	}
	tests := []struct {
		file  string
		first string
	}{
		{path, "2026-11-24T10:00:09Z stdout line 009"},
		{path + ".1", "2026-11-24T10:00:06Z stdout line 006"},
		{path + ".2", "2026-11-24T10:00:03Z stdout line 003"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			got := lines(t, tt.file)
			if len(got) != 3 || got[0] != tt.first {
				t.Fatalf("%s holds %q, want three lines from %q", tt.file, got, tt.first)
			}
		})
	}
}

func TestAppendsToAnExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	if err := os.WriteFile(path, []byte("earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := newSink(t, "text", "{path: "+path+"}")
	if err := d.Deliver(context.Background(), []model.LogRecord{record(1)}); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, path); len(got) != 2 || got[0] != "earlier" {
		t.Fatalf("file holds %q", got)
	}
}
