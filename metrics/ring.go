package metrics

import (
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// point is one stored value at a Unix time in milliseconds.
type point struct {
	t int64
	v float64
}

// chunkPoints is how many points a sealed chunk holds. Smaller chunks drop
// the oldest points sooner and let a query skip more of the hour; larger
// ones spend fewer bytes a point on each chunk's header and first point.
const chunkPoints = 64

// sealedChunk is a full XOR chunk (Prometheus' encoding: delta-of-delta
// times, XOR'd values) and the time of its newest point.
type sealedChunk struct {
	b    []byte
	last int64
}

// tailPoints is how many of the newest points a series keeps as they are,
// to append them to its open chunk together: appending touches the chunk's
// memory once for them all, where each Add of a collector's batch touches
// every series in it.
const tailPoints = 4

// ring holds the latest capacity points of one series, oldest dropped
// first. The points are kept compressed: sealed chunks of chunkPoints, an
// open chunk being appended to, and the newest few points as they are, so
// that reading the newest and replacing it cost nothing. A sealed chunk is
// dropped once none of its points is among the latest capacity. Its memory
// grows with the points it is given: a series that stops early (the
// instance of a replaced pod, kept until the retention passes) holds only
// what it got.
type ring struct {
	sealed   []sealedChunk // oldest first
	open     *chunkenc.XORChunk
	app      chunkenc.Appender
	tail     [tailPoints]point // the newest points, oldest first
	nTail    int
	skip     int // points at the start of the oldest chunk (or of the tail) no longer held
	n        int // points held, the newest included
	capacity int
}

// newRing returns an empty ring of capacity points.
func newRing(capacity int) *ring { return &ring{capacity: max(capacity, 1)} }

// add appends p. A point at the time of the newest replaces it; an older
// point than the newest is dropped, so points stay in time order.
func (r *ring) add(p point) {
	if r.n > 0 {
		newest := &r.tail[r.nTail-1]
		switch {
		case p.t == newest.t:
			newest.v = p.v
			return
		case p.t < newest.t:
			return
		}
	}
	if r.nTail == tailPoints {
		for _, q := range r.tail {
			r.push(q)
		}
		r.nTail = 0
	}
	r.tail[r.nTail] = p
	r.nTail++
	r.n++
	if r.n > r.capacity {
		r.n--
		r.skip++
		if len(r.sealed) > 0 && r.skip >= chunkPoints {
			copy(r.sealed, r.sealed[1:])
			r.sealed[len(r.sealed)-1] = sealedChunk{}
			r.sealed = r.sealed[:len(r.sealed)-1]
			r.skip -= chunkPoints
		}
	}
}

// push appends p to the open chunk, sealing it when full.
func (r *ring) push(p point) {
	if r.open == nil {
		r.open = chunkenc.NewXORChunk()
		app, err := r.open.Appender()
		if err != nil {
			panic(err) // an empty chunk always has one
		}
		r.app = app
	}
	r.app.Append(p.t, p.v)
	if r.open.NumSamples() >= chunkPoints {
		if r.sealed == nil {
			// As many as it will hold, so that appending never leaves room
			// unused: a series holds capacity points and the chunk being
			// dropped.
			r.sealed = make([]sealedChunk, 0, r.capacity/chunkPoints+2)
		}
		r.sealed = append(r.sealed, sealedChunk{b: append([]byte(nil), r.open.Bytes()...), last: p.t})
		r.open, r.app = nil, nil
	}
}

// last returns the newest point.
func (r *ring) last() (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	return r.tail[r.nTail-1], true
}

// each calls f on the points within [from, to] milliseconds, oldest first.
func (r *ring) each(from, to int64, f func(point)) {
	if r.n == 0 || r.tail[r.nTail-1].t < from {
		return
	}
	var it chunkenc.Iterator
	skip := r.skip
	visit := func(b []byte) bool {
		var c chunkenc.XORChunk
		c.Reset(b)
		it = c.Iterator(it)
		for it.Next() != chunkenc.ValNone {
			if skip > 0 {
				skip--
				continue
			}
			t, v := it.At()
			if t > to {
				return false
			}
			if t >= from {
				f(point{t, v})
			}
		}
		return true
	}
	for _, c := range r.sealed {
		if c.last < from {
			skip = 0 // the whole chunk is before the range, held points or not
			continue
		}
		if !visit(c.b) {
			return
		}
	}
	if r.open != nil && !visit(r.open.Bytes()) {
		return
	}
	for _, p := range r.tail[min(skip, r.nTail):r.nTail] {
		if p.t > to {
			return
		}
		if p.t >= from {
			f(p)
		}
	}
}

// latest returns the newest point within [from, to] milliseconds.
func (r *ring) latest(from, to int64) (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	if newest := r.tail[r.nTail-1]; newest.t <= to {
		return newest, newest.t >= from // older points are older still
	}
	var best point
	found := false
	r.each(from, to, func(p point) { best, found = p, true })
	return best, found
}
