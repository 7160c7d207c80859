package server

import (
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

// nodeSamplesResponse is the body of GET /api/v1/node/samples.
type nodeSamplesResponse struct {
	Node    string         `json:"node"`
	Samples []model.Sample `json:"samples"`
	// Next is the since of the next call: the time the newest returned
	// sample was recorded, or the since asked with when nothing was new.
	Next time.Time `json:"next"`
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
	node, samples, next := s.opts.NodeSamples.SamplesSince(since)
	if samples == nil {
		samples = []model.Sample{}
	}
	writeJSON(w, http.StatusOK, nodeSamplesResponse{Node: node, Samples: samples, Next: next})
}
