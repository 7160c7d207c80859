package collector

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/opshub/opshub/internal/sinktest"
)

// TestFileBehindSeriesFollowTheOpenFiles: each open log file has its
// opshub_collector_file_behind_bytes series on /metrics, at 0 once read to
// the end, and the series leaves when the file is gone.
func TestFileBehindSeriesFollowTheOpenFiles(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "0.log")
	if err := os.WriteFile(path, []byte("2026-11-24T10:00:00.000000001Z stdout F hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	out := &memOutput{}
	startCollector(t, root, out, func(o *Options) { o.Registerer = reg })
	behind := func() string {
		text, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, "opshub_collector_file_behind_bytes")
		if err != nil {
			t.Fatal(err)
		}
		return string(text)
	}
	want := `opshub_collector_file_behind_bytes{path="` + path + `"} 0`
	sinktest.WaitFor(t, 10*time.Second, "the file read to its end", func() bool {
		return len(out.records()) == 1 && strings.Contains(behind(), want)
	})
	if text := behind(); !strings.Contains(text, "# TYPE opshub_collector_file_behind_bytes gauge") {
		t.Errorf("/metrics lacks the family's TYPE line:\n%s", text)
	}

	if err := os.RemoveAll(filepath.Join(root, "demo_web-1_uid1")); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 10*time.Second, "the series of the removed file gone", func() bool {
		return behind() == ""
	})
}
