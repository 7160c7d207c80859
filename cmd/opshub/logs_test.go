package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestLogsAgainstRun runs `opshub run` in-process with the demo service
// logging numbered lines and one error line, then asks it as a user would:
// a regex search over the last five minutes, and a live follow.
func TestLogsAgainstRun(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	api := sinktest.FreeAddr(t)
	cfgPath := writeConfig(t, bin, t.TempDir(), api, `, --log-rate, "20", --log-once, "error: cannot reach the database"`)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan int, 1)
	var runOut, runErr sinktest.LockedBuffer
	go func() { runDone <- execute(ctx, []string{"run", "-c", cfgPath}, &runOut, &runErr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-runDone:
		case <-time.After(30 * time.Second):
			t.Error("opshub run did not stop within 30s")
		}
	})
	server := "--server=" + api

	// The regex search prints the error line of both instances and no
	// numbered line.
	var out string
	defer func() {
		if t.Failed() {
			_, o, e := runCLI(t, server, "logs", "demo/web", "--since", "5m", "-n", "5")
			t.Logf("last output %q\nlogs: %s %s\nrun stderr: %s", out, o, e, runErr.String())
		}
	}()
	waitUntil(t, 30*time.Second, "both instances' error lines", func() bool {
		code, stdout, _ := runCLI(t, server, "logs", "demo/web", "--regex", "GET|error", "--since", "5m")
		out = stdout
		return code == 0 && strings.Count(stdout, "error: cannot reach the database") == 2
	})
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "error: cannot reach the database") {
			t.Errorf("line %q does not match 'GET|error'", line)
		}
	}

	// -f prints lines as they are written: each numbered line's own time
	// (when the runtime wrote it) is within a second of its arrival.
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	followDone := make(chan int, 1)
	go func() {
		var stderr bytes.Buffer
		followDone <- execute(followCtx, []string{server, "logs", "web", "-f", "-n", "1", "--grep", "seq=", "-o", "json"}, pw, &stderr)
		pw.Close()
	}()
	dec := json.NewDecoder(pr)
	late := 0
	for i := range 40 {
		var rec model.LogRecord
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("reading opshub logs -f: %v", err)
		}
		arrived := time.Now()
		if i == 0 {
			continue // the starting line was written before the follow began
		}
		if !strings.Contains(rec.Log, "seq=") || rec.Service != "web" {
			t.Fatalf("unexpected line %+v", rec)
		}
		if d := arrived.Sub(rec.Time); d > time.Second {
			late++
			t.Errorf("line %q arrived %s after it was written, want within 1s", rec.Log, d)
		}
	}
	stopFollow()
	if code := <-followDone; code != 0 {
		t.Errorf("opshub logs -f exited %d after its context ended, want 0", code)
	}
	pr.Close()
	if late == 0 {
		t.Logf("40 followed lines, each within 1s of being written")
	}
}

func TestLogsFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad output", []string{"logs", "demo/web", "-o", "yaml"}, "unknown output format"},
		{"bad direction", []string{"logs", "demo/web", "--direction", "sideways"}, "--direction must be forward or backward"},
		{"bad time", []string{"logs", "demo/web", "--from", "yesterday"}, "--from must be an RFC 3339 time"},
		{"bad regex", []string{"logs", "demo/web", "--regex", "("}, "--regex"},
		{"exclude alone", []string{"logs", "demo/web", "--exclude"}, "--exclude inverts --grep or --regex"},
		{"no service", []string{"logs"}, "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, exitUsage, tt.want)
			}
		})
	}
}
