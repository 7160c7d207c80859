package metrics

import "math"

// point is one stored value at a Unix time in milliseconds.
type point struct {
	t int64
	v float64
}

// ring holds the latest points of one series, oldest overwritten first.
//
// It holds them compactly, as the controller keeps an hour of 18 series
// for every pod of a cluster: a time as milliseconds after base in 4
// bytes, and a value in 4 bytes while every value the series had is a
// float32 exactly (counts, limits and requests, page-sized byte counts),
// else in 8. Nothing is rounded: what add was given, each returns.
type ring struct {
	base     int64     // ms; every point's time is base + off
	off      []uint32  // ms after base
	v32      []float32 // the values while all are exact float32s
	v64      []float64 // the values once one is not (v32 is then nil)
	head     int       // index of the oldest point
	n        int
	capacity int
}

// newRing returns an empty ring of capacity points. Its memory grows with
// the points it is given: a series that stops early (the instance of a
// replaced pod, kept until the retention passes) holds only what it got.
func newRing(capacity int) *ring { return &ring{capacity: capacity} }

func (r *ring) at(i int) point {
	if r.v64 != nil {
		return point{t: r.base + int64(r.off[i]), v: r.v64[i]}
	}
	return point{t: r.base + int64(r.off[i]), v: float64(r.v32[i])}
}

// set stores p at physical index i, appending when i is the length.
func (r *ring) set(i int, p point) {
	if r.n == 0 {
		r.base = p.t
	}
	off := uint32(p.t - r.base)
	if f := float32(p.v); r.v64 == nil && float64(f) != p.v {
		r.v64 = make([]float64, len(r.v32), cap(r.v32))
		for j, x := range r.v32 {
			r.v64[j] = float64(x)
		}
		r.v32 = nil
	}
	if i == len(r.off) {
		r.off = append(r.off, off)
		if r.v64 != nil {
			r.v64 = append(r.v64, p.v)
		} else {
			r.v32 = append(r.v32, float32(p.v))
		}
		return
	}
	r.off[i] = off
	if r.v64 != nil {
		r.v64[i] = p.v
	} else {
		r.v32[i] = float32(p.v)
	}
}

// rebase moves base up to the oldest point kept once t is added, so that
// offsets stay within 32 bits (49 days) for a series older than that; a
// ring whose points span more than that (a series sampled once in weeks)
// starts again from t: its older points are far outside any retention.
func (r *ring) rebase(t int64) {
	oldest := r.at(r.head).t
	if r.n == r.capacity {
		// The oldest is about to be overwritten.
		oldest = t
		if r.n > 1 {
			oldest = r.at((r.head + 1) % len(r.off)).t
		}
	}
	if t-oldest > math.MaxUint32 {
		r.off, r.head, r.n = r.off[:0], 0, 0
		if r.v64 != nil {
			r.v64 = r.v64[:0]
		} else {
			r.v32 = r.v32[:0]
		}
		return
	}
	shift := oldest - r.base
	for j := range r.off {
		if int64(r.off[j]) >= shift {
			r.off[j] -= uint32(shift)
		} else {
			r.off[j] = 0 // the point about to be overwritten
		}
	}
	r.base = oldest
}

// add appends p. A point at the time of the newest replaces it; an older
// point than the newest is dropped, so points stay in time order.
func (r *ring) add(p point) {
	if r.n > 0 {
		i := (r.head + r.n - 1) % len(r.off)
		last := r.at(i)
		switch {
		case p.t == last.t:
			r.set(i, p)
			return
		case p.t < last.t:
			return
		}
	}
	if r.n > 0 && p.t-r.base > math.MaxUint32 {
		r.rebase(p.t)
	}
	if r.n < r.capacity {
		// Not full yet, so never wrapped: head is 0 and the slices
		// hold n.
		r.set(r.n, p)
		r.n++
		return
	}
	r.set(r.head, p)
	r.head = (r.head + 1) % len(r.off)
}

// last returns the newest point.
func (r *ring) last() (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	return r.at((r.head + r.n - 1) % len(r.off)), true
}

// each calls f on the points within [from, to] milliseconds, oldest first.
func (r *ring) each(from, to int64, f func(point)) {
	for i := range r.n {
		p := r.at((r.head + i) % len(r.off))
		if p.t >= from && p.t <= to {
			f(p)
		}
	}
}

// latest returns the newest point within [from, to] milliseconds.
func (r *ring) latest(from, to int64) (point, bool) {
	for i := r.n - 1; i >= 0; i-- {
		p := r.at((r.head + i) % len(r.off))
		if p.t > to {
			continue
		}
		return p, p.t >= from // older points are older still
	}
	return point{}, false
}
