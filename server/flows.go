package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/opshub/opshub/release/flow"
)

// FlowRunner starts, lists, cancels, approves and rolls back flow runs and
// answers their webhooks; *flow.Engine satisfies it. Its errors wrap
// flow.ErrNotFound (404), flow.ErrForbidden and flow.ErrConflict (409).
type FlowRunner interface {
	Flows() []flow.Spec
	Start(name string, trigger flow.Trigger, args map[string]string) (flow.Run, error)
	Runs(flow string) ([]flow.Run, error)
	Get(id string) (flow.Run, error)
	Logs(id, step string) ([]string, error)
	Cancel(id, by string) (flow.Run, error)
	Approve(id, step, by string) error
	Rollback(id, by string) (flow.Run, error)
	Hook(name string, r *http.Request) flow.HookAnswer
	GitTriggers(flow string) []flow.GitState
}

// flowRoutes adds the flow endpoints and the flows' webhook, which takes no
// token: its signature is its credential.
func (s *Server) flowRoutes(mux *http.ServeMux, handle func(pattern, name string, scope Scope, h http.HandlerFunc)) {
	handle("GET /api/v1/flows", "flows", ScopeRead, s.listFlows)
	handle("POST /api/v1/flows/{name}/runs", "flow_run", ScopeDeploy, s.startFlowRun)
	handle("GET /api/v1/flows/runs", "flow_runs", ScopeRead, s.listFlowRuns)
	handle("GET /api/v1/flows/runs/{id}", "flow_run_get", ScopeRead, s.getFlowRun)
	handle("GET /api/v1/flows/runs/{id}/steps/{step}/logs", "flow_step_logs", ScopeRead, s.flowStepLogs)
	handle("POST /api/v1/flows/runs/{id}/cancel", "flow_cancel", ScopeDeploy, s.cancelFlowRun)
	handle("POST /api/v1/flows/runs/{id}/rollback", "flow_rollback", ScopeDeploy, s.rollbackFlowRun)
	handle("POST /api/v1/flows/runs/{id}/steps/{step}/approve", "flow_approve", ScopeDeploy, s.approveFlowStep)
	mux.Handle("POST /hooks/flows/{name}", s.instrument("flow_hook", http.HandlerFunc(s.flowHook)))
}

func (s *Server) flowsOrFail(w http.ResponseWriter) FlowRunner {
	if s.opts.Flows == nil {
		writeError(w, http.StatusNotFound, "flows are not available on this opshub", "")
	}
	return s.opts.Flows
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) {
	out := []flow.Listing{}
	if s.opts.Flows != nil {
		for _, f := range s.opts.Flows.Flows() {
			fj := flow.Listing{Name: f.Name, Concurrency: f.Concurrency, Triggers: []string{"api"}}
			for range f.Webhooks {
				fj.Triggers = append(fj.Triggers, "webhook")
			}
			for range f.Git {
				fj.Triggers = append(fj.Triggers, "git")
			}
			fj.Git = s.opts.Flows.GitTriggers(f.Name)
			if s.opts.Continuous != nil {
				fj.Images = s.opts.Continuous.Flow(f.Name)
				for range fj.Images {
					fj.Triggers = append(fj.Triggers, "image")
				}
			}
			for _, st := range f.Steps {
				needs := st.Needs
				if needs == nil {
					needs = []string{}
				}
				fj.Steps = append(fj.Steps, flow.StepListing{Name: st.Name, Kind: st.Kind(), Needs: needs})
			}
			if runs, err := s.opts.Flows.Runs(f.Name); err == nil && len(runs) > 0 {
				fj.LastRun = &runs[0]
			}
			out = append(out, fj)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"flows": out})
}

// flowRunRequest is the body of POST /api/v1/flows/{name}/runs; it may be
// empty.
type flowRunRequest struct {
	Args map[string]string `json:"args"`
}

func (s *Server) startFlowRun(w http.ResponseWriter, r *http.Request) {
	f := s.flowsOrFail(w)
	if f == nil {
		return
	}
	var req flowRunRequest
	if r.ContentLength != 0 && !decodeBody(w, r, &req, `{"args": {"VERSION": "1.4.2"}}`) {
		return
	}
	run, err := f.Start(r.PathValue("name"), flow.Trigger{Kind: flow.TriggerAPI, By: s.caller(r)}, req.Args)
	s.flowAnswer(w, http.StatusAccepted, map[string]any{"run": run}, err, "args")
}

func (s *Server) listFlowRuns(w http.ResponseWriter, r *http.Request) {
	if s.opts.Flows == nil {
		writeJSON(w, http.StatusOK, map[string]any{"runs": []flow.Run{}})
		return
	}
	runs, err := s.opts.Flows.Runs(r.URL.Query().Get("flow"))
	s.flowAnswer(w, http.StatusOK, map[string]any{"runs": runs}, err, "flow")
}

func (s *Server) getFlowRun(w http.ResponseWriter, r *http.Request) {
	f := s.flowsOrFail(w)
	if f == nil {
		return
	}
	run, err := f.Get(r.PathValue("id"))
	s.flowAnswer(w, http.StatusOK, run, err, "")
}

func (s *Server) flowStepLogs(w http.ResponseWriter, r *http.Request) {
	f := s.flowsOrFail(w)
	if f == nil {
		return
	}
	lines, err := f.Logs(r.PathValue("id"), r.PathValue("step"))
	s.flowAnswer(w, http.StatusOK, map[string]any{"lines": lines}, err, "")
}

func (s *Server) cancelFlowRun(w http.ResponseWriter, r *http.Request) {
	f := s.flowsOrFail(w)
	if f == nil {
		return
	}
	run, err := f.Cancel(r.PathValue("id"), s.caller(r))
	s.flowAnswer(w, http.StatusOK, map[string]any{"run": run}, err, "")
}

func (s *Server) rollbackFlowRun(w http.ResponseWriter, r *http.Request) {
	f := s.flowsOrFail(w)
	if f == nil {
		return
	}
	run, err := f.Rollback(r.PathValue("id"), s.caller(r))
	s.flowAnswer(w, http.StatusAccepted, map[string]any{"run": run}, err, "")
}

func (s *Server) approveFlowStep(w http.ResponseWriter, r *http.Request) {
	f := s.flowsOrFail(w)
	if f == nil {
		return
	}
	id, step := r.PathValue("id"), r.PathValue("step")
	if err := f.Approve(id, step, s.caller(r)); err != nil {
		s.flowError(w, err, "step")
		return
	}
	run, err := f.Get(id)
	s.flowAnswer(w, http.StatusOK, map[string]any{"run": run}, err, "")
}

// flowHook answers POST /hooks/flows/{name}.
func (s *Server) flowHook(w http.ResponseWriter, r *http.Request) {
	if s.opts.Flows == nil {
		writeError(w, http.StatusNotFound, "flows are not available on this opshub", "")
		return
	}
	a := s.opts.Flows.Hook(r.PathValue("name"), r)
	if a.Code >= 400 {
		s.log.Info("flow webhook refused", "flow", r.PathValue("name"), "code", a.Code, "reason", a.Error)
		writeError(w, a.Code, a.Error, "")
		return
	}
	writeJSON(w, a.Code, a)
}

// flowAnswer writes body with status, or err as flowError does when it is
// not nil.
func (s *Server) flowAnswer(w http.ResponseWriter, status int, body any, err error, field string) {
	if err != nil {
		s.flowError(w, err, field)
		return
	}
	writeJSON(w, status, body)
}

func (s *Server) flowError(w http.ResponseWriter, err error, field string) {
	switch {
	case errors.Is(err, flow.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error(), "")
	case errors.Is(err, flow.ErrForbidden), errors.Is(err, flow.ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), "")
	default:
		var bad flow.ArgError
		if errors.As(err, &bad) {
			writeError(w, http.StatusBadRequest, err.Error(), field)
			return
		}
		writeError(w, http.StatusServiceUnavailable, fmt.Sprint(err), "")
	}
}
