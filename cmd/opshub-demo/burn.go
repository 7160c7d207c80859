package main

import (
	"context"
	"math"
	"runtime"
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

// spin burns duty of a core on one goroutine until ctx ends. It counts the
// CPU time its thread really got, not the wall time it spun: on a busy
// machine a wall-clock duty cycle gets less than it asks for, while this
// one keeps spinning (within each window) until its share is used, so the
// long-run average stays at duty as long as the machine has it to give.
// A shortfall carries over by at most one window, so a burner that was
// starved for a while does not then run flat out to catch up.
func spin(ctx context.Context, duty float64, window time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	clock := newThreadClock()
	timer := time.NewTimer(window)
	timer.Stop()
	var owed time.Duration // CPU time asked for so far, beyond what was used
	used := clock()
	for {
		windowStart := time.Now()
		owed += time.Duration(duty * float64(window))
		owed = min(owed, 2*window)
		for owed > 0 && time.Since(windowStart) < window {
			// Reading the clock is the work: cheap, and never optimised away.
			now := clock()
			owed -= now - used
			used = now
		}
		rest := window - time.Since(windowStart)
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
