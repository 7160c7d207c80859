package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/opshub/opshub/jobs"
)

// JobRunner lists jobs, starts runs and reads their history; package
// jobs' Engine satisfies it. Start returns an error wrapping
// jobs.ErrNotFound for an unknown job and jobs.ErrForbidden when its
// concurrencyPolicy refuses a second run.
type JobRunner interface {
	Jobs() []jobs.Spec
	Start(project, name, trigger string, env map[string]string) (jobs.Run, error)
	Runs(project, name string) ([]jobs.Run, error)
}

// jobJSON is one job in GET /api/v1/jobs.
type jobJSON struct {
	Project           string    `json:"project"`
	Name              string    `json:"name"`
	Schedule          string    `json:"schedule,omitempty"`
	TimeZone          string    `json:"timeZone,omitempty"`
	RunAtStart        bool      `json:"runAtStart"`
	ConcurrencyPolicy string    `json:"concurrencyPolicy"`
	BackoffLimit      int       `json:"backoffLimit"`
	ActiveDeadline    string    `json:"activeDeadline,omitempty"`
	LastRun           *jobs.Run `json:"lastRun,omitempty"`
}

// envName is what a variable name may look like.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jobRoutes adds the job endpoints.
func (s *Server) jobRoutes(handle func(pattern, name string, scope Scope, h http.HandlerFunc)) {
	handle("GET /api/v1/jobs", "jobs", ScopeRead, s.listJobs)
	handle("GET /api/v1/jobs/{project}/{name}/runs", "job_runs", ScopeRead, s.listJobRuns)
	handle("POST /api/v1/jobs/{project}/{name}/runs", "job_run", ScopeDeploy, s.startJobRun)
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	out := []jobJSON{}
	if s.opts.Jobs != nil {
		for _, j := range s.opts.Jobs.Jobs() {
			jj := jobJSON{
				Project: j.Project, Name: j.Name, Schedule: j.Schedule, TimeZone: j.TimeZone, RunAtStart: j.RunAtStart,
				ConcurrencyPolicy: j.Concurrency, BackoffLimit: j.BackoffLimit,
			}
			if jj.ConcurrencyPolicy == "" {
				jj.ConcurrencyPolicy = jobs.Allow
			}
			if j.ActiveDeadline > 0 {
				jj.ActiveDeadline = j.ActiveDeadline.String()
			}
			if runs, err := s.opts.Jobs.Runs(j.Project, j.Name); err == nil && len(runs) > 0 {
				jj.LastRun = &runs[0]
			}
			out = append(out, jj)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

func (s *Server) listJobRuns(w http.ResponseWriter, r *http.Request) {
	project, name := r.PathValue("project"), r.PathValue("name")
	if s.opts.Jobs == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %s/%s not found", project, name), "job")
		return
	}
	runs, err := s.opts.Jobs.Runs(project, name)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %s/%s not found", project, name), "job")
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, "read job runs: "+err.Error(), "")
		return
	}
	if runs == nil {
		runs = []jobs.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// jobRunRequest is the body of POST /api/v1/jobs/{project}/{name}/runs;
// it may be empty.
type jobRunRequest struct {
	Env map[string]string `json:"env"`
}

func (s *Server) startJobRun(w http.ResponseWriter, r *http.Request) {
	project, name := r.PathValue("project"), r.PathValue("name")
	if s.opts.Jobs == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %s/%s not found", project, name), "job")
		return
	}
	var req jobRunRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "body must be JSON such as {\"env\": {\"K\": \"V\"}}: "+err.Error(), "env")
		return
	}
	for k := range req.Env {
		if !envName.MatchString(k) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("env %q is not a variable name", k), "env")
			return
		}
	}
	run, err := s.opts.Jobs.Start(project, name, jobs.TriggerAPI, req.Env)
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %s/%s not found", project, name), "job")
	case errors.Is(err, jobs.ErrForbidden):
		writeError(w, http.StatusConflict, err.Error(), "")
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, err.Error(), "")
	default:
		writeJSON(w, http.StatusAccepted, map[string]any{"run": run})
	}
}
