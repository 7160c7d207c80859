package server

import (
	"context"
	"net/http"

	"github.com/opshub/opshub/model"
)

// ConfigReloader re-reads the config file of the running opshub and applies
// what can change live. Reload returns what changed; when it refuses the
// file it returns an error and a result whose Errors list every problem, and
// nothing changed.
type ConfigReloader interface {
	Reload(ctx context.Context) (model.ConfigReload, error)
}

// reloadConfig serves POST /api/v1/config/reload: 200 with {"reload": …}
// when the file was applied; 422 with {"error", "reload": {"errors": […]}}
// when it was refused, each error with its line.
func (s *Server) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if s.opts.Reloader == nil {
		writeError(w, http.StatusNotFound, "config reload is not available: this opshub was not started from a config file", "")
		return
	}
	// A client that goes away must not cut a reload in half.
	res, err := s.opts.Reloader.Reload(context.WithoutCancel(r.Context()))
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]any{"reload": res})
	case !res.Applied && len(res.Errors) > 0:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": err.Error(), "reload": res})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "reload": res})
	}
}
