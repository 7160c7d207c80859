package main

import (
	"context"
	"math"
	"time"
)

// A pacer turns a steady rate into whole units per tick. It counts from a
// fixed start, so rounding never accumulates: after any tick the total is
// floor(rate × elapsed), except that a stall of more than a second is not
// caught up (the backlog beyond one second's worth is dropped), so a
// blocked writer does not cause a burst.
type pacer struct {
	start time.Time
	rate  float64 // units per second
	done  int64   // units handed out so far, including dropped ones
}

func newPacer(start time.Time, rate float64) *pacer {
	return &pacer{start: start, rate: rate}
}

// due returns how many units to produce at now.
func (p *pacer) due(now time.Time) int64 {
	want := int64(p.rate * now.Sub(p.start).Seconds())
	n := want - p.done
	if limit := int64(math.Ceil(p.rate)); n > limit {
		n = limit
	}
	if n < 0 {
		n = 0
	}
	p.done = want
	return n
}

// tickFor is how often to produce units at rate: often enough for a steady
// flow (the period between two units), but at most 100 times a second so
// that high rates are batched, and at least once a second.
func tickFor(rate float64) time.Duration {
	d := time.Duration(float64(time.Second) / rate)
	return min(max(d, 10*time.Millisecond), time.Second)
}

// paced hands produce the units due at each tick, at the rate rateOf picks
// from the knobs, ticking every tick(rate), until ctx ends. It follows
// changes to the knobs: a new rate starts a new pacer, 0 pauses, and
// produce gets the settings current at each tick.
func paced(ctx context.Context, k *knobs, rateOf func(settings) float64, tick func(rate float64) time.Duration, produce func(n int64, set settings)) {
	var (
		ticker *time.Ticker
		ticks  <-chan time.Time
		p      *pacer
		rate   float64
	)
	stop := func() {
		if ticker != nil {
			ticker.Stop()
			ticker, ticks = nil, nil
		}
	}
	defer stop()
	set, changed := k.get()
	for {
		if r := rateOf(set); r != rate {
			stop()
			rate = r
			if rate > 0 {
				p = newPacer(time.Now(), rate)
				ticker = time.NewTicker(tick(rate))
				ticks = ticker.C
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
			set, changed = k.get()
		case now := <-ticks:
			produce(p.due(now), set)
		}
	}
}
