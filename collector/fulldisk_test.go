package collector

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
	httpsink "github.com/opshub/opshub/sinks/http"
)

// lineNumbersOf returns the numbers of the "line N" records rv accepted,
// in arrival order.
func lineNumbersOf(rv *sinktest.LogReceiver) []int {
	var got []int
	for _, rec := range rv.Records() {
		var n int
		if _, err := fmt.Sscanf(rec.Log, "line %d", &n); err == nil {
			got = append(got, n)
		}
	}
	return got
}

// notReceived lists the numbers in [from, to] rv has not received, and counts
// those received more than once.
func notReceived(rv *sinktest.LogReceiver, from, to int) (missing []int, twice int) {
	seen := map[int]int{}
	for _, n := range lineNumbersOf(rv) {
		seen[n]++
	}
	for n := from; n <= to; n++ {
		switch {
		case seen[n] == 0:
			missing = append(missing, n)
		case seen[n] > 1:
			twice++
		}
	}
	return missing, twice
}

// TestFullDiskHoldsTheCollectorAndLosesNothing runs the collector into the
// sinks router and a real http sink, with the checkpoints and the sink's
// buffer on a small tmpfs that fills up twice: once while the receiver is
// up (the checkpoints cannot be written), once while it is down with a
// backlog on disk (the buffer cannot be written). Each time the collector
// stops reading and says why in its log, its status and
// opshub_collector_held, and once the space is back it reads on by itself
// and every line arrives.
func TestFullDiskHoldsTheCollectorAndLosesNothing(t *testing.T) {
	disk := sinktest.Tmpfs(t, "1m", false)
	root := t.TempDir()
	dir := filepath.Join(root, "demo_web-1_uid1", "web")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "0.log")
	next := 1
	write := func(n int) {
		appendFile(t, logFile, numbered(next, next+n-1))
		next += n
	}

	rv := sinktest.StartLogReceiver(t)
	spec := sinks.Spec{Name: "hook", Type: "http", Encoding: "json"}
	dest := plugintest.NewSink(t, httpsink.Plugin, spec, "url: "+rv.URL)
	logs := &sinktest.LockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	router, err := sinks.NewRouter([]sinks.SinkConfig{{Spec: spec, Destination: dest, Batch: sinks.BatchLimits{Timeout: 20 * time.Millisecond}}},
		sinks.Options{DataDir: disk, Logger: log, Retry: sinks.RetryPolicy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	routerDone := make(chan error, 1)
	go func() { routerDone <- router.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-routerDone })

	reg := prometheus.NewRegistry()
	c := startCollector(t, root, router, func(o *Options) {
		o.StateDir = filepath.Join(disk, "collector")
		o.Logger = log
		o.Registerer = reg
		o.OutputHeld = router.Held
	})
	held := func(reason string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.Metric {
				if mf.GetName() == "opshub_collector_held" && m.GetLabel()[0].GetValue() == reason {
					return m.GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no opshub_collector_held{reason=%q}", reason)
		return 0
	}
	allArrive := func(what string) {
		t.Helper()
		sinktest.Eventually(t, 30*time.Second, what, func() error {
			if missing, _ := notReceived(rv, 1, next-1); len(missing) > 0 {
				return fmt.Errorf("%d lines missing, the first %d", len(missing), missing[0])
			}
			if st := c.Status(); st.State != model.CollectorReading {
				return fmt.Errorf("collector %s: %s", st.State, st.Reason)
			}
			return nil
		})
	}

	write(50)
	allArrive("the first lines")

	// The checkpoints' filesystem fills while the receiver is up: the
	// acknowledged batch cannot be recorded, so its file reads no more.
	filler := sinktest.FillUp(t, disk)
	sinktest.Eventually(t, 30*time.Second, "the collector held by its checkpoints", func() error {
		if st := c.Status(); st.State != model.CollectorHeld || !strings.Contains(st.Reason, "cannot write checkpoints") || !strings.Contains(st.Reason, "no space left on device") {
			write(5) // the journal's last page may still take a few entries
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	if held("checkpoints") != 1 || !strings.Contains(logs.String(), "cannot write checkpoints; the collector stops reading") {
		t.Errorf("opshub_collector_held{reason=checkpoints} = %v, log:\n%s", held("checkpoints"), logs.String())
	}
	// Held means not read: lines written now wait while the checkpointer
	// tries again (and fails) three more times.
	firstHeld := next
	write(20)
	errs := testutil.ToFloat64(c.metrics.ckptErrors)
	sinktest.WaitFor(t, 30*time.Second, "three more failed checkpoint writes", func() bool {
		return testutil.ToFloat64(c.metrics.ckptErrors) >= errs+3
	})
	if slices.Contains(lineNumbersOf(rv), firstHeld) {
		t.Errorf("line %d, written while the collector was held, was read", firstHeld)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	allArrive("every line once the checkpoints can be written")
	if held("checkpoints") != 0 || !strings.Contains(logs.String(), "checkpoints can be written again; reading resumes") {
		t.Errorf("after the space came back: opshub_collector_held{reason=checkpoints} = %v, log:\n%s", held("checkpoints"), logs.String())
	}

	// The receiver goes down: records wait in the sink's buffer on disk.
	// Then the filesystem fills, and the next records cannot be buffered.
	rv.SetDown(true)
	write(50)
	sinktest.WaitFor(t, 30*time.Second, "a backlog in the sink's buffer", func() bool {
		st := router.Sinks()[0]
		return st.State == model.SinkFailing && st.BufferEvents > 0
	})
	filler = sinktest.FillUp(t, disk)
	sinktest.Eventually(t, 30*time.Second, "the collector held by the sink's buffer", func() error {
		st := c.Status()
		if st.State != model.CollectorHeld || !strings.Contains(st.Reason, `sink "hook" cannot write its buffer`) {
			write(5)
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	if s := router.Sinks()[0]; !strings.Contains(s.BufferError, "no space left on device") || s.BufferErrorSince.IsZero() {
		t.Errorf("sink status while its buffer cannot be written: %+v", s)
	}
	if held("sinks") != 1 || !strings.Contains(logs.String(), "cannot write the sink buffer") {
		t.Errorf("opshub_collector_held{reason=sinks} = %v, log:\n%s", held("sinks"), logs.String())
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	rv.SetDown(false)
	write(20)
	allArrive("every line once the buffer can be written and the receiver is back")
	if held("sinks") != 0 || router.Sinks()[0].BufferError != "" {
		t.Errorf("after the space came back: opshub_collector_held{reason=sinks} = %v, sink %+v", held("sinks"), router.Sinks()[0])
	}
	_, twice := notReceived(rv, 1, next-1)
	t.Logf("%d lines, none lost, %d delivered twice", next-1, twice)
}
