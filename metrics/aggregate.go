package metrics

import (
	"slices"
	"time"

	"github.com/opshub/opshub/model"
)

// Aggregate combines per-container series into one series per service,
// type and volume, point by point at equal timestamps (query with a Step so
// that the instances' points line up). Usage and rates add up across
// instances; percentages are averaged; a volume is shared by a service's
// instances, so its largest reading is kept.
func Aggregate(series []model.MetricSeries) []model.MetricSeries {
	type key struct {
		project, service, volume string
		typ                      model.MetricType
	}
	type acc struct {
		sum, max float64
		n        int
	}
	groups := map[key]map[int64]*acc{}
	var order []key
	for _, s := range series {
		k := key{s.Project, s.Service, s.Volume, s.Type}
		g := groups[k]
		if g == nil {
			g = map[int64]*acc{}
			groups[k] = g
			order = append(order, k)
		}
		for _, p := range s.Points {
			a := g[p.Time.Unix()]
			if a == nil {
				a = &acc{max: p.Value}
				g[p.Time.Unix()] = a
			}
			a.sum += p.Value
			a.max = max(a.max, p.Value)
			a.n++
		}
	}
	out := make([]model.MetricSeries, 0, len(order))
	for _, k := range order {
		g := groups[k]
		times := make([]int64, 0, len(g))
		for t := range g {
			times = append(times, t)
		}
		slices.Sort(times)
		pts := make([]model.MetricPoint, 0, len(times))
		for _, t := range times {
			a := g[t]
			v := a.sum
			switch {
			case k.typ.Unit() == "percent":
				v = a.sum / float64(a.n)
			case k.volume != "":
				v = a.max
			}
			pts = append(pts, model.MetricPoint{Time: time.Unix(t, 0).UTC(), Value: v})
		}
		out = append(out, model.MetricSeries{
			Type: k.typ, Unit: k.typ.Unit(), Project: k.project, Service: k.service, Volume: k.volume, Points: pts,
		})
	}
	sortSeries(out)
	return out
}
