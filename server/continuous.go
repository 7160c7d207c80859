package server

import (
	"net/http"

	"github.com/opshub/opshub/model"
)

// Continuous is continuous deployment (release.continuous);
// *continuous.Watcher satisfies it.
type Continuous interface {
	// Pause stops continuous deployment of the service for a deploy or
	// rollback by hand, before it is made; undo puts the state back when
	// the deploy is then refused. A service without continuous deployment
	// is left alone.
	Pause(ref model.Ref, by, reason string) (undo func())
	// Resume turns it on again; a service without it is a
	// *release.Error (404).
	Resume(ref model.Ref) ([]model.ContinuousState, error)
	// Status is the state of each of the service's continuous
	// deployments; nil when it has none.
	Status(ref model.Ref) []model.ContinuousState
	// Flow is the state of each image trigger of a flow.
	Flow(name string) []model.ContinuousState
}

// continuousResponse is the body of GET and POST …/continuous.
type continuousResponse struct {
	Continuous []model.ContinuousState `json:"continuous"`
}

// pauseContinuous pauses continuous deployment for a deploy or rollback
// by hand; the returned undo is a no-op without continuous deployment.
func (s *Server) pauseContinuous(r *http.Request, what string) (undo func()) {
	if s.opts.Continuous == nil {
		return func() {}
	}
	return s.opts.Continuous.Pause(pathRef(r), s.caller(r), what+" by hand")
}

func (s *Server) continuousStatus(r *http.Request) []model.ContinuousState {
	if s.opts.Continuous == nil {
		return nil
	}
	return s.opts.Continuous.Status(pathRef(r))
}

// getContinuous answers GET …/continuous: the state of the service's
// continuous deployments ([] when it has none).
func (s *Server) getContinuous(w http.ResponseWriter, r *http.Request) {
	states := s.continuousStatus(r)
	if states == nil {
		states = []model.ContinuousState{}
	}
	writeJSON(w, http.StatusOK, continuousResponse{Continuous: states})
}

// resumeContinuous answers POST …/continuous/resume (`opshub deploy
// SERVICE --resume-continuous`): continuous deployment is on again, and
// the registry is read at once.
func (s *Server) resumeContinuous(w http.ResponseWriter, r *http.Request) {
	if s.opts.Continuous == nil {
		ref := pathRef(r)
		writeError(w, http.StatusNotFound, ref.Project+"/"+ref.Service+" has no continuous deployment (release.continuous)", "service")
		return
	}
	states, err := s.opts.Continuous.Resume(pathRef(r))
	if err != nil {
		s.releaseError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, continuousResponse{Continuous: states})
}
