package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestStoreKeepsAnHourAt15s(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := NewStore(time.Hour, 15*time.Second)
	ref := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	// Two hours of samples: the oldest hour must be gone, the last kept whole.
	for i := range 480 {
		s.Add(model.Sample{Ref: ref, Type: model.MetricCPU, Time: t0.Add(time.Duration(i) * 15 * time.Second), Value: float64(i)})
	}
	end := t0.Add(479 * 15 * time.Second)
	got := s.Query(Query{From: end.Add(-time.Hour), To: end})
	if len(got) != 1 {
		t.Fatalf("%d series, want 1", len(got))
	}
	pts := got[0].Points
	if len(pts) != 241 || pts[0].Value != 239 || pts[len(pts)-1].Value != 479 {
		t.Errorf("last hour holds %d points from %v to %v, want 241 from 239 to 479", len(pts), pts[0].Value, pts[len(pts)-1].Value)
	}
	if got := s.Query(Query{From: t0, To: t0.Add(30 * time.Minute)}); len(got) != 0 {
		t.Errorf("points older than the ring answered: %v", got)
	}
}

func TestStoreQuery(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := NewStore(time.Hour, 15*time.Second)
	web0 := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	web1 := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
	api := model.Ref{Project: "demo", Service: "api", Instance: "api-0", Container: "api"}
	for i := range 8 {
		at := t0.Add(time.Duration(i) * 15 * time.Second)
		s.Add(
			model.Sample{Ref: web0, Type: model.MetricCPU, Time: at, Value: 0.25},
			model.Sample{Ref: web1, Type: model.MetricCPU, Time: at, Value: 0.5},
			model.Sample{Ref: web0, Type: model.MetricMemory, Time: at, Value: 100},
			model.Sample{Ref: web1, Type: model.MetricMemory, Time: at, Value: 300},
			model.Sample{Ref: api, Type: model.MetricCPU, Time: at, Value: 1},
			model.Sample{Ref: web0.ServiceRef(), Type: model.MetricVolumeUsed, Volume: "data", Time: at, Value: 50},
		)
	}
	to := t0.Add(2 * time.Minute)
	tests := []struct {
		name      string
		q         Query
		aggregate bool
		want      []string // type/instance/points/first value
	}{
		{"one service, every type", Query{Project: "demo", Service: "web", From: t0, To: to},
			false, []string{"cpu/web-0/8/0.25", "cpu/web-1/8/0.5", "memory/web-0/8/100", "memory/web-1/8/300", "volume-used//8/50"}},
		{"one type", Query{Service: "web", Types: []model.MetricType{model.MetricMemory}, From: t0, To: to},
			false, []string{"memory/web-0/8/100", "memory/web-1/8/300"}},
		{"one container keeps its service's volumes", Query{Service: "web", Container: "web-1", From: t0, To: to},
			false, []string{"cpu/web-1/8/0.5", "memory/web-1/8/300", "volume-used//8/50"}},
		{"a minute step averages four points", Query{Service: "api", Step: time.Minute, From: t0, To: to},
			false, []string{"cpu/api-0/2/1"}},
		{"time range", Query{Service: "api", From: t0.Add(time.Minute), To: to},
			false, []string{"cpu/api-0/4/1"}},
		{"aggregated per service: usage adds up, volumes do not", Query{Service: "web", Step: 15 * time.Second, From: t0, To: to},
			true, []string{"cpu//8/0.75", "memory//8/400", "volume-used//8/50"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.Query(tc.q)
			if tc.aggregate {
				got = Aggregate(got)
			}
			var desc []string
			for _, g := range got {
				desc = append(desc, fmt.Sprintf("%s/%s/%d/%v", g.Type, g.Instance, len(g.Points), g.Points[0].Value))
			}
			if strings.Join(desc, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got  %v\nwant %v", desc, tc.want)
			}
		})
	}
}

func TestStorePrune(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	s := NewStore(time.Hour, 15*time.Second)
	s.Add(model.Sample{Ref: model.Ref{Project: "p", Service: "gone"}, Type: model.MetricCPU, Time: t0, Value: 1})
	s.Add(model.Sample{Ref: model.Ref{Project: "p", Service: "live"}, Type: model.MetricCPU, Time: t0.Add(50 * time.Minute), Value: 1})
	s.Prune(t0.Add(61 * time.Minute))
	if s.Len() != 1 {
		t.Errorf("%d series after pruning, want the live one", s.Len())
	}
}

// A series holds memory for the points it was given, not for a full hour:
// the series of replaced pods stay until the retention passes, and at
// thousands of pods full rings for them would be most of the controller's
// memory.
func TestRingGrowsWithItsPoints(t *testing.T) {
	r := newRing(244)
	for i := range 3 {
		r.add(point{t: int64(i), v: float64(i)})
	}
	if b := r.heldBytes(); b > 160 {
		t.Errorf("a ring of 3 points holds %d bytes", b)
	}
	for i := 3; i < 1000; i++ {
		r.add(point{t: int64(i), v: float64(i)})
	}
	var got []float64
	r.each(0, 1000, func(p point) { got = append(got, p.v) })
	if len(got) != 244 || got[0] != 756 || got[243] != 999 {
		t.Errorf("after 1000 points the ring holds %d from %v, want 244 from 756 to 999", len(got), got[:1])
	}
	if b := r.heldBytes(); b > 244*16/2 {
		t.Errorf("244 points of a steady series take %d bytes, want them compressed to less than half of 16 bytes a point", b)
	}
}

// heldBytes is what the ring's points take, chunk headers included.
func (r *ring) heldBytes() int {
	n := 0
	for _, c := range r.sealed {
		n += cap(c.b)
	}
	if r.open != nil {
		n += cap(r.open.Bytes())
	}
	return n + len(r.tail)*16
}

// The compressed ring answers exactly what a plain list of its last
// capacity points would: every value bit for bit, replacements of the
// newest point and late points included, for any range.
func TestRingAnswersLikeAListOfItsPoints(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, capacity := range []int{1, 5, 64, 65, 244} {
		r := newRing(capacity)
		var want []point
		at := int64(1_700_000_000_000)
		for i := range 700 {
			var p point
			switch k := rnd.IntN(10); {
			case k == 0 && len(want) > 0: // the newest again, another value
				p = point{t: want[len(want)-1].t, v: rnd.NormFloat64()}
				want[len(want)-1] = p
			case k == 1 && len(want) > 0: // late: dropped
				p = point{t: want[len(want)-1].t - 1, v: 1}
			default:
				at += 15_000 + rnd.Int64N(40) - 20
				p = point{t: at, v: []float64{rnd.Float64(), float64(rnd.IntN(3) << 20), 0.25, math.NaN()}[i%4]}
				want = append(want, p)
				if len(want) > capacity {
					want = want[1:]
				}
			}
			r.add(p)
			from, to := want[0].t-1+rnd.Int64N(at-want[0].t+30_000), at+1-rnd.Int64N(120_000)
			var got []point
			r.each(from, to, func(p point) { got = append(got, p) })
			var exp []point
			for _, p := range want {
				if p.t >= from && p.t <= to {
					exp = append(exp, p)
				}
			}
			if !samePoints(got, exp) {
				t.Fatalf("capacity %d, after %d adds, [%d, %d]: got %v, want %v", capacity, i+1, from, to, got, exp)
			}
			lp, ok := r.latest(from, to)
			if ok != (len(exp) > 0) || ok && !samePoints([]point{lp}, exp[len(exp)-1:]) {
				t.Fatalf("capacity %d, after %d adds, latest in [%d, %d]: %v %v, want %v", capacity, i+1, from, to, lp, ok, exp)
			}
		}
	}
}

func samePoints(a, b []point) bool {
	return slices.EqualFunc(a, b, func(x, y point) bool {
		return x.t == y.t && math.Float64bits(x.v) == math.Float64bits(y.v)
	})
}

// What the ring is given comes back unchanged, whatever the values and
// however far apart the times.
func TestRingKeepsWhatItIsGiven(t *testing.T) {
	day := int64(24 * time.Hour / time.Millisecond)
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixMilli()
	r := newRing(5)
	in := []point{
		{start, 100}, {start + 15_000, 4096 * 1000}, {start + 30_001, 0.1}, // 0.1 is not a float32
		{start + 60*day, 1e300}, {start + 60*day + 1, -0.5}, {start + 61*day, 3},
	}
	for _, p := range in {
		r.add(p)
	}
	// Its last five, 60 days apart or not.
	var got []point
	r.each(0, start+100*day, func(p point) { got = append(got, p) })
	if fmt.Sprint(got) != fmt.Sprint(in[1:]) {
		t.Errorf("ring holds %v, want %v", got, in[1:])
	}
	r = newRing(3)
	for i, v := range []float64{1, 2, 0.3, 4, 5} {
		r.add(point{start + int64(i)*1000, v})
	}
	got = got[:0]
	r.each(0, start+day, func(p point) { got = append(got, p) })
	if want := []point{{start + 2000, 0.3}, {start + 3000, 4}, {start + 4000, 5}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ring holds %v, want %v", got, want)
	}
	// A series sampled for longer than 49 days keeps its latest points.
	r = newRing(3)
	for _, d := range []int64{0, 20, 40, 60, 80} {
		r.add(point{start + d*day, float64(d)})
	}
	got = got[:0]
	r.each(0, start+100*day, func(p point) { got = append(got, p) })
	if want := []point{{start + 40*day, 40}, {start + 60*day, 60}, {start + 80*day, 80}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after 80 days the ring holds %v, want %v", got, want)
	}
	// A point at the newest time replaces it.
	r.add(point{start + 80*day, 6.25})
	if p, _ := r.last(); p.v != 6.25 {
		t.Errorf("newest %v, want 6.25", p)
	}
}
