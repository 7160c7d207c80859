package app_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
)

// TestATakenPortStopsStartUpBeforeAnyPartRuns: the commands listen before
// they start anything, so a taken server.listen is an error naming the
// setting, and no workload was launched for nothing.
func TestATakenPortStopsStartUpBeforeAnyPartRuns(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	marker := filepath.Join(dir, "started")
	cfg, err := app.ParseConfig(fmt.Appendf(nil, `
dataDir: %s
server: {listen: %q}
workloads:
  - name: web
    project: demo
    command: [sh, -c, "touch %s; sleep 60"]
`, filepath.Join(dir, "data"), taken.Addr().String(), marker), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = app.Run(ctx, cfg, app.Options{})
	if err == nil || !strings.Contains(err.Error(), "listen on server.listen "+taken.Addr().String()) {
		t.Fatalf("Run on a taken port: %v, want an error naming server.listen and its address", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a workload was started although the API could not listen")
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("the data directory was not made before the parts were built: %v", err)
	}
}

// A dataDir opshub cannot write is one error at start, naming dataDir and
// the reason, before anything runs.
func TestUnwritableDataDirIsOneClearError(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := t.TempDir()
	if sinktest.IsRoot() {
		// Permission bits do not stop root; a read-only filesystem does.
		readOnly = sinktest.Tmpfs(t, "1m", true)
	} else if err := os.Chmod(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{
		"below a file": filepath.Join(notADir, "data"),
		"on a read-only filesystem or without write permission": readOnly,
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := app.ParseConfig(fmt.Appendf(nil, "dataDir: %s\nserver: {listen: \"127.0.0.1:0\"}\n", dir), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err = app.Run(ctx, cfg, app.Options{})
			if err == nil || !strings.HasPrefix(err.Error(), "dataDir "+dir) || strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("Run: %v; want one error naming dataDir %s", err, dir)
			}
			t.Log(err)
		})
	}
}
