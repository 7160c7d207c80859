package metrics

import (
	"fmt"
	"io"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/opshub/opshub/model"
)

// benchExposition fills an exposition with the series of a busy node:
// 300 containers, each with every container family, and a volume each.
func benchExposition() *Exposition {
	e := NewExposition()
	var samples []model.Sample
	var incs []Increase
	for i := 0; i < 300; i++ {
		ref := model.Ref{Project: "demo", Service: fmt.Sprintf("svc-%d", i/3), Instance: fmt.Sprintf("svc-%d-%d", i/3, i%3), Container: "app"}
		for t, f := range families {
			switch {
			case t == model.MetricRestarts:
				samples = append(samples, model.Sample{Ref: ref, Type: t, Value: 1})
			case f.counter:
				incs = append(incs, Increase{Ref: ref, Type: t, Delta: 1234.5})
			case t == model.MetricVolumeUsed || t == model.MetricVolumeCapacity || t == model.MetricVolumeInodes:
				samples = append(samples, model.Sample{Ref: ref.ServiceRef(), Type: t, Volume: "data", Value: 1 << 30})
			default:
				samples = append(samples, model.Sample{Ref: ref, Type: t, Value: 64 << 20})
			}
		}
	}
	e.Update(samples, incs)
	return e
}

// BenchmarkExpositionScrape is one /metrics scrape of those series: the
// registry gathers the exposition's constant metrics and the text encoder
// writes them, as the server's /metrics handler does.
func BenchmarkExpositionScrape(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(benchExposition())
	b.ReportAllocs()
	for b.Loop() {
		families, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range families {
			if err := enc.Encode(mf); err != nil {
				b.Fatal(err)
			}
		}
	}
}
