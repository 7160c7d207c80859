package metrics

// point is one stored value at a Unix time in milliseconds.
type point struct {
	t int64
	v float64
}

// ring holds the latest points of one series, oldest overwritten first.
type ring struct {
	pts      []point
	head     int // index of the oldest point
	n        int
	capacity int
}

// newRing returns an empty ring of capacity points. Its memory grows with
// the points it is given: a series that stops early (the instance of a
// replaced pod, kept until the retention passes) holds only what it got.
func newRing(capacity int) *ring { return &ring{capacity: capacity} }

// add appends p. A point at the time of the newest replaces it; an older
// point than the newest is dropped, so points stay in time order.
func (r *ring) add(p point) {
	if r.n > 0 {
		last := &r.pts[(r.head+r.n-1)%len(r.pts)]
		switch {
		case p.t == last.t:
			last.v = p.v
			return
		case p.t < last.t:
			return
		}
	}
	if r.n < r.capacity {
		// Not full yet, so never wrapped: head is 0 and pts holds n.
		r.pts = append(r.pts, p)
		r.n++
		return
	}
	r.pts[r.head] = p
	r.head = (r.head + 1) % len(r.pts)
}

// last returns the newest point.
func (r *ring) last() (point, bool) {
	if r.n == 0 {
		return point{}, false
	}
	return r.pts[(r.head+r.n-1)%len(r.pts)], true
}

// each calls f on the points within [from, to] milliseconds, oldest first.
func (r *ring) each(from, to int64, f func(point)) {
	for i := range r.n {
		p := r.pts[(r.head+i)%len(r.pts)]
		if p.t >= from && p.t <= to {
			f(p)
		}
	}
}

// latest returns the newest point within [from, to] milliseconds.
func (r *ring) latest(from, to int64) (point, bool) {
	for i := r.n - 1; i >= 0; i-- {
		p := r.pts[(r.head+i)%len(r.pts)]
		if p.t > to {
			continue
		}
		return p, p.t >= from // older points are older still
	}
	return point{}, false
}
