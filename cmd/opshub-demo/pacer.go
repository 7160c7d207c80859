package main

import (
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
