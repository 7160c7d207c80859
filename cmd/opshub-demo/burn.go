package main

import (
	"context"
	"math"
	"sync"
	"time"
)

// burnWindow is the duty-cycle period: each burning goroutine spins for its
// share of every window and sleeps for the rest, so that a cgroup's CPU
// accounting sees a steady load at any sampling interval above it.
const burnWindow = 100 * time.Millisecond

// burner keeps the cpu knob's worth of cores busy until its context ends.
type burner struct {
	knobs *knobs
}

// run follows the cpu knob, restarting the spinning goroutines when it
// changes, and returns after they have all stopped.
func (b *burner) run(ctx context.Context) {
	var cores float64
	stop := func() {}
	defer func() { stop() }()
	set, changed := b.knobs.get()
	for {
		if set.cpu != cores {
			stop()
			cores = set.cpu
			stop = startSpinning(ctx, cores)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			set, changed = b.knobs.get()
		}
	}
}

// startSpinning starts the goroutines that burn cores and returns the
// function that stops them and waits for them to end.
func startSpinning(ctx context.Context, cores float64) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, duty := range dutyCycles(cores) {
		wg.Go(func() { spin(ctx, duty, burnWindow) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// dutyCycles splits cores over goroutines: one per whole core at 1, and one
// more for the fraction. 2.5 is [1 1 0.5].
func dutyCycles(cores float64) []float64 {
	var duties []float64
	for cores > 1e-9 {
		d := math.Min(cores, 1)
		duties = append(duties, d)
		cores -= d
	}
	return duties
}

// spin burns duty of every window on one goroutine until ctx ends.
func spin(ctx context.Context, duty float64, window time.Duration) {
	busy := time.Duration(duty * float64(window))
	rest := window - busy
	timer := time.NewTimer(window)
	timer.Stop()
	for {
		start := time.Now()
		for time.Since(start) < busy {
			// Reading the clock is the work: cheap, and never optimised away.
		}
		if rest <= 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		timer.Reset(rest)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}
