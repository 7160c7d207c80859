package server

import (
	"net/http"
	"time"

	"github.com/opshub/opshub/autoscaler"
)

// AutoscalingReader is what the autoscaling endpoint reads. *autoscaler.Loop
// satisfies it.
type AutoscalingReader interface {
	Decisions() []autoscaler.ServiceDecisions
}

// autoscalingDecision is one entry of GET /api/v1/autoscaling.
type autoscalingDecision struct {
	Project     string                `json:"project"`
	Service     string                `json:"service"`
	Time        time.Time             `json:"time"`
	Current     int                   `json:"current"`
	Desired     int                   `json:"desired"`
	Recommended int                   `json:"recommended"`
	Metrics     []autoscaler.Proposal `json:"metrics"`
	Limit       autoscaler.Limit      `json:"limit"`
	Reason      string                `json:"reason"`
	MinReplicas int                   `json:"minReplicas"`
	MaxReplicas int                   `json:"maxReplicas"`
}

// getAutoscaling answers with the latest decision of every policy, or with
// ?history=true every recent decision, newest first; ?project= and
// ?service= filter.
func (s *Server) getAutoscaling(w http.ResponseWriter, r *http.Request) {
	out := struct {
		Decisions []autoscalingDecision `json:"decisions"`
	}{Decisions: []autoscalingDecision{}}
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
			metrics := d.Metrics
			if metrics == nil {
				metrics = []autoscaler.Proposal{}
			}
			out.Decisions = append(out.Decisions, autoscalingDecision{
				Project: sd.Service.Project, Service: sd.Service.Service, Time: d.Time,
				Current: d.Current, Desired: d.Desired, Recommended: d.Recommended, Metrics: metrics,
				Limit: d.Limit, Reason: d.Reason, MinReplicas: sd.Policy.MinReplicas, MaxReplicas: sd.Policy.MaxReplicas,
			})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
