package server

import (
	"net/http"

	"github.com/opshub/opshub/autoscaler"
)

// AutoscalingReader is what the autoscaling endpoint reads. *autoscaler.Loop
// satisfies it.
type AutoscalingReader interface {
	Decisions() []autoscaler.ServiceDecisions
}

// getAutoscaling answers with the latest decision of every policy, or with
// ?history=true every recent decision, newest first; ?project= and
// ?service= filter.
func (s *Server) getAutoscaling(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Decisions []autoscaler.ServiceDecision `json:"decisions"`
	}{Decisions: []autoscaler.ServiceDecision{}}
	if s.opts.Autoscaling == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	q := r.URL.Query()
	history := q.Get("history") == "true"
	for _, sd := range s.opts.Autoscaling.Decisions() {
		if p := q.Get("project"); p != "" && p != sd.Service.Project {
			continue
		}
		if v := q.Get("service"); v != "" && v != sd.Service.Service {
			continue
		}
		for i, d := range sd.Decisions {
			if i > 0 && !history {
				break
			}
			if d.Metrics == nil {
				d.Metrics = []autoscaler.Proposal{}
			}
			out.Decisions = append(out.Decisions, autoscaler.ServiceDecision{
				Project: sd.Service.Project, Service: sd.Service.Service, Decision: d,
				MinReplicas: sd.Policy.MinReplicas, MaxReplicas: sd.Policy.MaxReplicas,
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
