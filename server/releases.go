package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/release"
)

// Releaser deploys, rolls back and lists releases; *release.Manager
// satisfies it. Its refusals are *release.Error values carrying the HTTP
// status and the field at fault.
type Releaser interface {
	Deploy(ctx context.Context, ref model.Ref, ch release.Change, trigger model.ReleaseTrigger) (model.Release, error)
	Rollback(ctx context.Context, ref model.Ref, revision int, trigger model.ReleaseTrigger, reason string) (model.Release, error)
	Releases(ctx context.Context, ref model.Ref) ([]model.Release, error)
	// Env lists the variables an instance of the service gets, secret
	// values already shown as "<secret>".
	Env(ctx context.Context, ref model.Ref) ([]model.EnvVar, error)
}

// releaseResponse is the answer of a deploy or a rollback.
type releaseResponse struct {
	Release model.Release `json:"release"`
}

// rollbackRequest is the body of POST …/rollback.
type rollbackRequest struct {
	Revision int    `json:"revision,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

func (s *Server) deployService(w http.ResponseWriter, r *http.Request) {
	if s.opts.Releases == nil {
		writeError(w, http.StatusNotImplemented, "releases are not available on this opshub", "")
		return
	}
	var ch release.Change
	if !decodeBody(w, r, &ch, `{"env": {"K": "V"}, "version": "1.2"}`) {
		return
	}
	undo := s.pauseContinuous(r, "deploy")
	rel, err := s.opts.Releases.Deploy(r.Context(), pathRef(r), ch, model.ReleaseTrigger{Kind: model.TriggerAPI, By: s.caller(r)})
	if err != nil {
		undo()
		s.releaseError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, releaseResponse{Release: rel})
}

func (s *Server) rollbackService(w http.ResponseWriter, r *http.Request) {
	if s.opts.Releases == nil {
		writeError(w, http.StatusNotImplemented, "releases are not available on this opshub", "")
		return
	}
	var req rollbackRequest
	if r.ContentLength != 0 && !decodeBody(w, r, &req, `{"revision": 3}`) {
		return
	}
	if req.Revision < 0 {
		writeError(w, http.StatusBadRequest, "revision must be a positive number, got "+strconv.Itoa(req.Revision), "revision")
		return
	}
	undo := s.pauseContinuous(r, "rollback")
	rel, err := s.opts.Releases.Rollback(r.Context(), pathRef(r), req.Revision, model.ReleaseTrigger{Kind: model.TriggerRollback, By: s.caller(r)}, req.Reason)
	if err != nil {
		undo()
		s.releaseError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, releaseResponse{Release: rel})
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	if s.opts.Releases == nil {
		writeJSON(w, http.StatusOK, map[string]any{"releases": []model.Release{}})
		return
	}
	rels, err := s.opts.Releases.Releases(r.Context(), pathRef(r))
	if err != nil {
		s.releaseError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"releases": rels})
}

// serviceEnv answers GET …/env: every variable an instance of the service
// gets, with its source; a secret value is "<secret>" for every caller,
// admin included.
func (s *Server) serviceEnv(w http.ResponseWriter, r *http.Request) {
	if s.opts.Releases == nil {
		writeError(w, http.StatusNotImplemented, "the environment of services is not available on this opshub", "")
		return
	}
	env, err := s.opts.Releases.Env(r.Context(), pathRef(r))
	if err != nil {
		s.releaseError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"env": env})
}

func pathRef(r *http.Request) model.Ref {
	return model.Ref{Project: r.PathValue("project"), Service: r.PathValue("service")}
}

// decodeBody reads a JSON body strictly; on failure it answers 400 with an
// example and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "body must be JSON such as "+example+": "+err.Error(), "")
		return false
	}
	return true
}

func (s *Server) releaseError(w http.ResponseWriter, err error) {
	var re *release.Error
	if errors.As(err, &re) {
		writeError(w, re.Code, re.Msg, re.Field)
		return
	}
	s.log.Warn("release request failed", "error", err)
	writeError(w, http.StatusInternalServerError, err.Error(), "")
}

// caller names who made a request: the token's name, or "loopback".
func (s *Server) caller(r *http.Request) string {
	if s.opts.TokenReviewer != nil {
		return ""
	}
	_, who := s.auth.authorize(r, ScopeRead)
	return who
}
