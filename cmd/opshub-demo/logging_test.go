package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestAppendLine(t *testing.T) {
	const header = "seq=12 instance=web-1 stream=stdout"
	tests := []struct {
		name string
		size int64
		want string
	}{
		{name: "no size is the header", size: 0, want: header},
		{name: "shorter than the header", size: 10, want: header},
		{name: "exactly the header", size: int64(len(header)), want: header},
		{name: "one byte more", size: int64(len(header)) + 1, want: header + " "},
		{name: "padded", size: int64(len(header)) + 10, want: header + " the quick"},
		{name: "padding wraps the filler", size: int64(len(header)) + 1 + int64(len(filler)) + 3, want: header + " " + filler + "the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(appendLine([]byte("x"), 12, "web-1", "stdout", tt.size))
			if got != "x"+tt.want+"\n" {
				t.Errorf("appendLine = %q, want %q", got, "x"+tt.want+"\n")
			}
		})
	}
}

func TestStreamNumbersAndCountsLines(t *testing.T) {
	var out syncBuffer
	s := newStream("stderr", "web-1", &out)
	s.emit(3, 0)
	s.text("a plain line")
	s.text("two\nlines\n")
	s.emit(2, 100)

	lines := out.lines()
	if len(lines) != 8 || s.lines.Load() != 8 {
		t.Fatalf("wrote %d lines, counted %d, want 8:\n%s", len(lines), s.lines.Load(), out.String())
	}
	checkSeq(t, numbered(lines), 1, 5)
	for _, l := range numbered(lines)[3:] {
		if len(l) != 100 {
			t.Errorf("line %q is %d bytes, want 100", l, len(l))
		}
	}
	for _, l := range numbered(lines) {
		if !strings.Contains(l, " instance=web-1 stream=stderr") {
			t.Errorf("line %q does not name the instance and stream", l)
		}
	}
}

// countingWriter counts Write calls, to see that lines are batched.
type countingWriter struct {
	syncBuffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.syncBuffer.Write(p)
}

func TestStreamBatchesLargeCounts(t *testing.T) {
	var out countingWriter
	s := newStream("stdout", "web-1", &out)
	s.emit(20000, 200)
	lines := out.lines()
	if len(lines) != 20000 {
		t.Fatalf("wrote %d lines, want 20000", len(lines))
	}
	checkSeq(t, lines, 1, 20000)
	if max := 20000*201/maxBatchBytes + 1; out.writes > max || out.writes < 2 {
		t.Errorf("%d writes for 20000 lines of 200 bytes, want 2 to %d", out.writes, max)
	}
}

func TestPacer(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		rate  float64
		tick  time.Duration
		ticks int
		want  int64
	}{
		{name: "10000 per second in 10ms ticks", rate: 10000, tick: 10 * time.Millisecond, ticks: 100, want: 10000},
		{name: "1000 per second for 3s", rate: 1000, tick: 10 * time.Millisecond, ticks: 300, want: 3000},
		{name: "3 per second in 100ms ticks", rate: 3, tick: 100 * time.Millisecond, ticks: 10, want: 3},
		{name: "7 per second, 1s ticks", rate: 7, tick: time.Second, ticks: 5, want: 35},
		{name: "half a line per second", rate: 0.5, tick: time.Second, ticks: 10, want: 5},
		{name: "odd tick", rate: 333, tick: 7 * time.Millisecond, ticks: 1000, want: 2331},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(start, tt.rate)
			var total int64
			for i := 1; i <= tt.ticks; i++ {
				n := p.due(start.Add(time.Duration(i) * tt.tick))
				if n < 0 || float64(n) > tt.rate*tt.tick.Seconds()+1 {
					t.Fatalf("tick %d: %d units at %v/s", i, n, tt.rate)
				}
				total += n
			}
			if total != tt.want {
				t.Errorf("total = %d, want %d", total, tt.want)
			}
		})
	}
}

func TestPacerDropsBacklogAfterAStall(t *testing.T) {
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p := newPacer(start, 100)
	if n := p.due(start.Add(10 * time.Second)); n != 100 {
		t.Errorf("after a 10s stall: %d, want one second's worth (100)", n)
	}
	if n := p.due(start.Add(10*time.Second + 100*time.Millisecond)); n != 10 {
		t.Errorf("next tick: %d, want 10", n)
	}
}

func TestTickFor(t *testing.T) {
	tests := map[float64]time.Duration{
		10000: 10 * time.Millisecond,
		1000:  10 * time.Millisecond,
		50:    20 * time.Millisecond,
		4:     250 * time.Millisecond,
		1:     time.Second,
		0.1:   time.Second,
	}
	for rate, want := range tests {
		if got := tickFor(rate); got != want {
			t.Errorf("tickFor(%v) = %v, want %v", rate, got, want)
		}
	}
}

// TestPaceFollowsTheKnobs runs the rate loops on a fake clock: after a known
// number of ticks the count of lines is exact.
func TestPaceFollowsTheKnobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out, errOut syncBuffer
		stdout := newStream("stdout", "web-1", &out)
		stderr := newStream("stderr", "web-1", &errOut)
		k := newKnobs(settings{logRate: 10000, stderrRate: 200, logSize: 64})

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { stdout.pace(ctx, k, func(s settings) float64 { return s.logRate }) })
		wg.Go(func() { stderr.pace(ctx, k, func(s settings) float64 { return s.stderrRate }) })

		// 100 ticks of 10ms; the extra 5ms keeps the last tick clear of
		// the moment the test looks.
		time.Sleep(time.Second + 5*time.Millisecond)
		synctest.Wait()
		lines, errLines := out.lines(), errOut.lines()
		if len(lines) != 10000 || len(errLines) != 200 {
			t.Fatalf("after 1s: %d stdout and %d stderr lines, want 10000 and 200", len(lines), len(errLines))
		}
		checkSeq(t, lines, 1, 10000)
		checkSeq(t, errLines, 1, 200)
		for _, l := range lines[:3] {
			if len(l) != 64 {
				t.Errorf("line %q is %d bytes, want 64", l, len(l))
			}
		}

		// A change to another knob keeps the pace.
		k.update(func(s *settings) { s.cpu = 1 })
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(out.lines()); n != 20000 {
			t.Errorf("after 2s: %d stdout lines, want 20000", n)
		}

		// Rate 0 stops, a new rate starts afresh with the new size.
		k.update(func(s *settings) { s.logRate = 0 })
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(out.lines()); n != 20000 {
			t.Errorf("at rate 0: %d stdout lines, want still 20000", n)
		}
		k.update(func(s *settings) { s.logRate, s.logSize = 4, 100 })
		time.Sleep(time.Second + 5*time.Millisecond)
		synctest.Wait()
		lines = out.lines()
		if len(lines) != 20004 {
			t.Fatalf("at 4 lines/s: %d stdout lines after 1s, want 20004", len(lines))
		}
		checkSeq(t, lines, 1, 20004)
		if l := lines[len(lines)-1]; len(l) != 100 {
			t.Errorf("line %q is %d bytes, want 100", l, len(l))
		}

		cancel()
		wg.Wait()
	})
}

// numbered keeps the lines that start with seq=.
func numbered(lines []string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, "seq=") {
			out = append(out, l)
		}
	}
	return out
}

// checkSeq checks that lines are numbered first to last without gaps.
func checkSeq(t *testing.T, lines []string, first, last uint64) {
	t.Helper()
	if uint64(len(lines)) != last-first+1 {
		t.Errorf("%d numbered lines, want %d", len(lines), last-first+1)
	}
	for i, l := range lines {
		want := first + uint64(i)
		seq, _, _ := strings.Cut(strings.TrimPrefix(l, "seq="), " ")
		if n, err := strconv.ParseUint(seq, 10, 64); err != nil || n != want {
			t.Fatalf("line %d is %q, want seq=%d", i, truncate(l), want)
		}
	}
}

func truncate(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s… (%d bytes)", s[:80], len(s))
	}
	return s
}
