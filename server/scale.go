package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/opshub/opshub/platform"
)

// Scaler changes how many instances a service should have.
// platform.Platform satisfies it; Scale wraps platform.ErrNotFound for an
// unknown service and returns once the change is accepted.
type Scaler interface {
	Scale(ctx context.Context, project, name string, replicas int) error
}

// AutoscaledFunc tells whether the autoscaler manages a service, and within
// which bounds.
type AutoscaledFunc func(project, service string) (minReplicas, maxReplicas int, ok bool)

// maxManualReplicas bounds a manual scale, so that a typo (10000 for 10)
// is refused rather than obeyed.
const maxManualReplicas = 1000

// scaleRequest is the body of POST /api/v1/services/{project}/{service}/scale.
type scaleRequest struct {
	Replicas *int `json:"replicas"`
}

// scaleResponse answers a scale: what the service had and what it was set
// to, and a warning when the autoscaler will move it again.
type scaleResponse struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Previous int    `json:"previous"`
	Replicas int    `json:"replicas"`
	Warning  string `json:"warning,omitempty"`
}

func (s *Server) scaleService(w http.ResponseWriter, r *http.Request) {
	project, name := r.PathValue("project"), r.PathValue("service")
	if s.opts.Scaler == nil {
		writeError(w, http.StatusNotImplemented, "scaling is not available on this opshub", "")
		return
	}
	var req scaleRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON such as {\"replicas\": 3}: "+err.Error(), "replicas")
		return
	}
	switch {
	case req.Replicas == nil:
		writeError(w, http.StatusBadRequest, "replicas is required", "replicas")
		return
	case *req.Replicas < 0 || *req.Replicas > maxManualReplicas:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("replicas must be between 0 and %d, got %d", maxManualReplicas, *req.Replicas), "replicas")
		return
	}
	svc, err := s.opts.Services.Service(r.Context(), project, name)
	if errors.Is(err, platform.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("service %s/%s not found", project, name), "service")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "get service: "+err.Error(), "")
		return
	}
	err = s.opts.Scaler.Scale(r.Context(), project, name, *req.Replicas)
	switch {
	case errors.Is(err, platform.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("service %s/%s not found", project, name), "service")
		return
	case err != nil:
		s.log.Warn("scale failed", "project", project, "service", name, "err", err)
		writeError(w, http.StatusInternalServerError, "scale: "+err.Error(), "")
		return
	}
	out := scaleResponse{Project: project, Service: name, Previous: svc.Replicas, Replicas: *req.Replicas}
	if s.opts.Autoscaled != nil {
		if lo, hi, ok := s.opts.Autoscaled(project, name); ok {
			out.Warning = fmt.Sprintf("%s/%s is managed by an autoscaling policy (min %d, max %d): its next decision may change the replicas again; change the policy to keep this count", project, name, lo, hi)
		}
	}
	s.log.Info("scaled by API", "project", project, "service", name, "previous", svc.Replicas, "replicas", *req.Replicas)
	writeJSON(w, http.StatusOK, out)
}
