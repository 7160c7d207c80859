package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// BenchmarkNodeSamplesAnswer is a new leader's first pull of one node: the
// hour a collector holds of 10 pods with 17 series each (what
// bench/clusterscale's nodes answer), written by the collector's encoder
// and read by NodeClient, in either form. It reports the answer's bytes.
//
//	go test -run '^$' -bench NodeSamplesAnswer -benchmem ./server/
func BenchmarkNodeSamplesAnswer(b *testing.B) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	var samples []model.Sample
	for step := range 240 {
		at := t0.Add(time.Duration(step) * 15 * time.Second)
		for pod := range 10 {
			ref := model.Ref{Project: "team-007", Service: "app-0042", Instance: fmt.Sprintf("app-0042-7d9c6b5f4-x%04d", pod), Container: "app"}
			for i, typ := range model.MetricTypes[:17] {
				samples = append(samples, model.Sample{Ref: ref, Type: typ, Time: at, Value: float64(step*i) + 0.123456789})
			}
		}
	}
	for _, form := range []struct {
		name   string
		series bool
	}{{"samples", false}, {"series", true}} {
		b.Run(form.name, func(b *testing.B) {
			var bytes int
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				cw := &countingWriter{ResponseWriter: w}
				WriteNodeSamples(cw, "node-a", samples, t0.Add(time.Hour), form.series)
				bytes = cw.n
			}))
			defer srv.Close()
			node := NodeClient{}
			for b.Loop() {
				got, _, err := node.Samples(context.Background(), srv.URL, time.Time{})
				if err != nil || len(got) != len(samples) {
					b.Fatalf("%d samples, err %v", len(got), err)
				}
			}
			b.ReportMetric(float64(bytes), "answer-bytes")
		})
	}
}

type countingWriter struct {
	http.ResponseWriter
	n int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += n
	return n, err
}
