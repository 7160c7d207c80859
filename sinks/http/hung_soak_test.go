//go:build soak

package http

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/sinks"
)

// TestHungDestinationSoak is the long check of a destination that accepts
// connections and never answers: `make soak-hung-destination` runs it for
// OPSHUB_SOAK_DURATION (default 10m) while 1000 lines a second go to the
// sink, which gives each request up at its 2 s timeout and tries again (at
// most a second later). Every twentieth of the run it records the
// goroutines, the heap in use after a GC and the connections the server
// holds; at the end none of them may have grown beyond a small constant
// (the records wait in the sink's buffer on disk, not in memory).
func TestHungDestinationSoak(t *testing.T) {
	dur := 10 * time.Minute
	if v := os.Getenv("OPSHUB_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("OPSHUB_SOAK_DURATION: %v", err)
		}
		dur = d
	}
	h := startHungServer(t)
	r := hungRouter(t, h, "2s", sinks.RetryPolicy{Initial: 100 * time.Millisecond, Max: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan int, 1)
	go func() {
		n := 0
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			if err := r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(n, n+100)}); err == nil {
				n += 100
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		fed <- n
	}()

	type sample struct {
		at                      time.Duration
		goroutines              int
		heapMiB                 float64
		accepted, closed, open  int
		retried, buffered, sent int64
	}
	var samples []sample
	take := func(at time.Duration) sample {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := r.Sinks()[0]
		s := sample{at: at, goroutines: runtime.NumGoroutine(), heapMiB: float64(ms.HeapInuse) / (1 << 20),
			retried: st.Retried, buffered: st.BufferEvents, sent: st.Sent}
		s.accepted, s.closed, s.open = h.counts()
		samples = append(samples, s)
		return s
	}
	start := time.Now()
	step := dur / 20
	for i := 1; i <= 20; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * step))) // the soak's own pace, not a wait for an outcome
		take(time.Since(start).Round(time.Second))
	}
	cancel()
	lines := <-fed

	var b strings.Builder
	fmt.Fprintf(&b, "\n| after | goroutines | heap in use (MiB) | connections accepted | given up by the sink | open | records retried | buffered | sent |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range samples {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %d | %d | %d | %d | %d | %d |\n", s.at, s.goroutines, s.heapMiB, s.accepted, s.closed, s.open, s.retried, s.buffered, s.sent)
	}
	t.Logf("%d lines sent into the router in %s%s", lines, dur, b.String())

	// The first sample is the baseline: the buffer, the connection pool
	// and the feeder are warm by then.
	first, last := samples[0], samples[len(samples)-1]
	if last.goroutines > first.goroutines+5 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, last.goroutines)
	}
	if last.heapMiB > first.heapMiB+8 {
		t.Errorf("heap in use grew from %.1f to %.1f MiB", first.heapMiB, last.heapMiB)
	}
	if last.open > 2 {
		t.Errorf("%d connections still open at the server: the sink does not give them up", last.open)
	}
	if last.closed < 10 || last.sent != 0 {
		t.Errorf("the sink gave up %d requests and delivered %d records; want many and none", last.closed, last.sent)
	}
	if last.buffered < int64(lines)-1000 {
		t.Errorf("%d records buffered of %d sent: records were lost", last.buffered, lines)
	}
}
