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
