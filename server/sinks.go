package server

import (
	"errors"
	"net/http"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// SinkController is what the API needs of the log sinks. *sinks.Router
// satisfies it; Pause and Resume return an error wrapping
// sinks.ErrUnknownSink for a name that is not configured.
type SinkController interface {
	Sinks() []model.SinkStatus
	Pause(name string) error
	Resume(name string) error
}

// CollectorStatusReader is the log collector, for GET /api/v1/collector.
type CollectorStatusReader interface {
	Status() model.CollectorStatus
}

func (s *Server) collectorStatus(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Collector == nil {
		writeError(w, http.StatusNotFound, "this server runs no log collector (on Kubernetes, ask a node's collector)", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"collector": s.opts.Collector.Status()})
}

func (s *Server) listSinks(w http.ResponseWriter, _ *http.Request) {
	out := []model.SinkStatus{}
	if s.opts.Sinks != nil {
		out = append(out, s.opts.Sinks.Sinks()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"sinks": out})
}

func (s *Server) pauseSink(w http.ResponseWriter, r *http.Request) {
	s.setSinkPaused(w, r, true)
}

func (s *Server) resumeSink(w http.ResponseWriter, r *http.Request) {
	s.setSinkPaused(w, r, false)
}

// setSinkPaused pauses or resumes a sink and answers with its state.
func (s *Server) setSinkPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	name := r.PathValue("name")
	if s.opts.Sinks == nil {
		writeError(w, http.StatusNotFound, "no sinks are configured", "name")
		return
	}
	var err error
	if paused {
		err = s.opts.Sinks.Pause(name)
	} else {
		err = s.opts.Sinks.Resume(name)
	}
	switch {
	case errors.Is(err, sinks.ErrUnknownSink):
		writeError(w, http.StatusNotFound, err.Error(), "name")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	for _, st := range s.opts.Sinks.Sinks() {
		if st.Name == name {
			writeJSON(w, http.StatusOK, map[string]any{"sink": st})
			return
		}
	}
	writeError(w, http.StatusNotFound, "sink "+name+" is gone", "name")
}
