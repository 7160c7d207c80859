package local

import (
	"testing"
	"time"
)

// TestRestartBackoff replays crash loops against the kubelet's rules: the
// first restart is immediate, later ones wait 10 s, 20 s, 40 s … capped at
// 5 min from the finish time, and a run of more than 10 min starts over.
func TestRestartBackoff(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	type run struct {
		lasted    time.Duration // from the restart (or first start) to the exit
		wantDelay time.Duration // before the next start, from the exit
	}
	tests := []struct {
		name string
		runs []run
	}{
		{
			name: "crash loop doubles up to five minutes",
			runs: []run{
				{time.Second, 0},
				{time.Second, 10 * time.Second},
				{time.Second, 20 * time.Second},
				{time.Second, 40 * time.Second},
				{time.Second, 80 * time.Second},
				{time.Second, 160 * time.Second},
				{time.Second, 300 * time.Second},
				{time.Second, 300 * time.Second},
			},
		},
		{
			name: "a run longer than ten minutes resets the back-off",
			runs: []run{
				{time.Second, 0},
				{time.Second, 10 * time.Second},
				{time.Second, 20 * time.Second},
				{10*time.Minute + time.Second, 0},
				{time.Second, 10 * time.Second},
				{time.Second, 20 * time.Second},
			},
		},
		{
			name: "a run of exactly ten minutes does not reset",
			runs: []run{
				{time.Second, 0},
				{time.Second, 10 * time.Second},
				{10 * time.Minute, 20 * time.Second},
			},
		},
		{
			name: "a long first run still restarts at once",
			runs: []run{
				{time.Hour, 0},
				{time.Second, 10 * time.Second},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newRestartBackoff()
			start := t0
			for i, r := range tc.runs {
				finished := start.Add(r.lasted)
				got := b.Delay(finished)
				if got != r.wantDelay {
					t.Fatalf("run %d (lasted %s): delay %s, want %s", i, r.lasted, got, r.wantDelay)
				}
				start = finished.Add(got)
				b = b.Restarted(finished, start)
			}
		})
	}
}

// TestRestartBackoffLateRestart checks that the wait is measured from the
// finish time: a restart taken late does not add to the next window.
func TestRestartBackoffLateRestart(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	b := newRestartBackoff()
	b = b.Restarted(t0, t0) // first crash, immediate restart
	finished := t0.Add(time.Second)
	if d := b.Delay(finished); d != 10*time.Second {
		t.Fatalf("delay %s, want 10s", d)
	}
	// The supervisor was slow and restarted 15 s after the exit.
	b = b.Restarted(finished, finished.Add(15*time.Second))
	if d := b.Delay(finished.Add(16 * time.Second)); d != 20*time.Second {
		t.Fatalf("delay %s, want 20s", d)
	}
}
