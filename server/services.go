package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/triage"
)

// servicesResponse is the body of the services endpoints.
type servicesResponse struct {
	Services []model.Service `json:"services"`
}

// services reads every service, or answers the error and returns false.
func (s *Server) services(w http.ResponseWriter, r *http.Request) ([]model.Service, bool) {
	svcs, err := s.opts.Services.Services(r.Context())
	if err != nil {
		s.log.Warn("list services failed", "err", err)
		writeError(w, http.StatusInternalServerError, "list services: "+err.Error(), "")
		return nil, false
	}
	return svcs, true
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	svcs, ok := s.services(w, r)
	if !ok {
		return
	}
	if project := r.URL.Query().Get("project"); project != "" {
		kept := svcs[:0]
		for _, svc := range svcs {
			if svc.Project == project {
				kept = append(kept, svc)
			}
		}
		svcs = kept
	}
	if svcs == nil {
		svcs = []model.Service{}
	}
	writeJSON(w, http.StatusOK, servicesResponse{Services: normalize(svcs)})
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	project, name := r.PathValue("project"), r.PathValue("service")
	svc, err := s.opts.Services.Service(r.Context(), project, name)
	switch {
	case errors.Is(err, platform.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("service %s/%s not found", project, name), "service")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "get service: "+err.Error(), "")
		return
	}
	one := serviceResponse{Service: normalize([]model.Service{svc})[0], Continuous: s.continuousStatus(r)}
	writeJSON(w, http.StatusOK, map[string][]serviceResponse{"services": {one}})
}

// serviceResponse is the one service of GET /api/v1/services/{project}/{service}:
// the service and, when it has continuous deployment, its state (paused or
// not, the digest seen and deployed).
type serviceResponse struct {
	model.Service
	Continuous []model.ContinuousState `json:"continuous,omitempty"`
}

// normalize makes empty lists render as [] rather than null, so clients can
// iterate without checks.
func normalize(svcs []model.Service) []model.Service {
	for i := range svcs {
		if svcs[i].Instances == nil {
			svcs[i].Instances = []model.Instance{}
		}
		for j := range svcs[i].Instances {
			if svcs[i].Instances[j].Probes == nil {
				svcs[i].Instances[j].Probes = []model.ProbeStatus{}
			}
		}
	}
	return svcs
}

// attentionResponse is the body of GET /api/v1/attention.
type attentionResponse struct {
	Attention []triage.Item `json:"attention"`
}

// listAttention serves the triage list `opshub status` prints under
// "Needs attention", by the same rule (package triage).
func (s *Server) listAttention(w http.ResponseWriter, r *http.Request) {
	svcs, ok := s.services(w, r)
	if !ok {
		return
	}
	items := triage.Services(svcs, time.Now())
	if items == nil {
		items = []triage.Item{}
	}
	writeJSON(w, http.StatusOK, attentionResponse{Attention: items})
}
