package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/opshub/opshub/model"
)

// NodeSampleReader answers GET /api/v1/node/samples on a collector: the
// container samples its node recorded after since, and the cursor to ask
// with next time. A zero since asks for everything still held.
type NodeSampleReader interface {
	SamplesSince(since time.Time) (node string, samples []model.Sample, next time.Time)
}

// The body of GET /api/v1/node/samples: the samples one by one, or with
// form=series grouped into series (what a controller asks for).
type (
	nodeSamplesAnswer struct {
		Node    string         `json:"node"`
		Samples []model.Sample `json:"samples"`
		// Next is the since of the next call: the time the newest returned
		// sample was recorded, or the since asked with when nothing was new.
		Next time.Time `json:"next"`
	}
	nodeSeriesAnswer struct {
		Node   string       `json:"node"`
		Series []nodeSeries `json:"series"`
		Next   time.Time    `json:"next"`
	}
)

// nodeSamplesResponse is what a controller reads: either form, so that
// collectors and controllers of different versions understand each other.
type nodeSamplesResponse struct {
	Node    string         `json:"node"`
	Samples []model.Sample `json:"samples"`
	Series  []nodeSeries   `json:"series"`
	Next    time.Time      `json:"next"`
}

// nodeSeries is one series' samples of an answer in the series form: what
// every sample of the series shares is written once, and each sample as
// [unix milliseconds, value] (the metrics store and remote write keep
// milliseconds). An hour of a node's samples is about a sixth of the
// bytes of the samples one by one, written and read in a third of the
// time (BenchmarkNodeSamplesAnswer).
type nodeSeries struct {
	model.Ref
	Type   model.MetricType `json:"type"`
	Volume string           `json:"volume,omitempty"`
	Points [][2]float64     `json:"points"`
}

// seriesForm groups samples into series, in the order each first appears,
// each series' points in the order of its samples.
func seriesForm(samples []model.Sample) []nodeSeries {
	type key struct {
		model.Ref
		typ    model.MetricType
		volume string
	}
	index := map[key]int{}
	out := []nodeSeries{}
	for _, s := range samples {
		k := key{s.Ref, s.Type, s.Volume}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nodeSeries{Ref: s.Ref, Type: s.Type, Volume: s.Volume})
		}
		out[i].Points = append(out[i].Points, [2]float64{float64(s.Time.UnixMilli()), s.Value})
	}
	return out
}

// samples returns the samples of the answer, in either form.
func (r *nodeSamplesResponse) samples() []model.Sample {
	if len(r.Series) == 0 {
		return r.Samples
	}
	n := len(r.Samples)
	for _, s := range r.Series {
		n += len(s.Points)
	}
	out := make([]model.Sample, 0, n)
	out = append(out, r.Samples...)
	for _, s := range r.Series {
		for _, p := range s.Points {
			out = append(out, model.Sample{Ref: s.Ref, Type: s.Type, Volume: s.Volume,
				Time: time.UnixMilli(int64(p[0])).UTC(), Value: p[1]})
		}
	}
	return out
}

func (s *Server) nodeSamples(w http.ResponseWriter, r *http.Request) {
	if s.opts.NodeSamples == nil {
		writeError(w, http.StatusNotFound, "node samples are served by `opshub collector` only", "")
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("since must be an RFC 3339 time such as 2026-11-24T10:00:00.123456789Z, got %q", v), "since")
			return
		}
		since = t
	}
	series := false
	switch form := r.URL.Query().Get("form"); form {
	case "", "samples":
	case "series":
		series = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("form must be samples or series, got %q", form), "form")
		return
	}
	node, samples, next := s.opts.NodeSamples.SamplesSince(since)
	WriteNodeSamples(w, node, samples, next, series)
}

// WriteNodeSamples writes an answer of GET /api/v1/node/samples: the
// samples one by one, or grouped into series. It is the one encoder of
// that answer (a collector's, and the simulated collectors of
// bench/clusterscale). The answer is compact, not indented: it is the
// largest the controller reads, every 15 s from every node.
func WriteNodeSamples(w http.ResponseWriter, node string, samples []model.Sample, next time.Time, series bool) {
	var body any
	if series {
		body = nodeSeriesAnswer{Node: node, Series: seriesForm(samples), Next: next}
	} else {
		if samples == nil {
			samples = []model.Sample{}
		}
		body = nodeSamplesAnswer{Node: node, Samples: samples, Next: next}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(body) // the client went away; nothing useful to do
}
