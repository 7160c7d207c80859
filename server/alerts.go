package server

import (
	"errors"
	"net/http"

	"github.com/opshub/opshub/alerting"
)

// AlertReader is what the API needs of the alerting pipeline.
// *alerting.Pipeline satisfies it.
type AlertReader interface {
	Alerts() ([]alerting.Alert, error)
	Deliveries() ([]alerting.Delivery, error)
	Integrations() ([]alerting.IntegrationStatus, error)
	Resend(id string) (alerting.Delivery, error)
}

// deliveryLimit bounds how many deliveries one listing returns.
const deliveryLimit = 500

func (s *Server) listAlerts(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Alerting == nil {
		writeJSON(w, http.StatusOK, map[string]any{"alerts": []alerting.Alert{}})
		return
	}
	alerts, err := s.opts.Alerting.Alerts()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": alerts})
}

// listDeliveries answers the deliveries, newest first, and the state of
// every integration (a disabled one says why).
func (s *Server) listDeliveries(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Alerting == nil {
		writeJSON(w, http.StatusOK, map[string]any{"deliveries": []alerting.Delivery{}, "integrations": []alerting.IntegrationStatus{}})
		return
	}
	ds, err := s.opts.Alerting.Deliveries()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	if len(ds) > deliveryLimit {
		ds = ds[:deliveryLimit]
	}
	ins, err := s.opts.Alerting.Integrations()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error(), "")
		return
	}
	if ins == nil {
		ins = []alerting.IntegrationStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds, "integrations": ins})
}

func (s *Server) resendDelivery(w http.ResponseWriter, r *http.Request) {
	if s.opts.Alerting == nil {
		writeError(w, http.StatusNotFound, "no notifications are configured", "")
		return
	}
	d, err := s.opts.Alerting.Resend(r.PathValue("id"))
	switch {
	case errors.Is(err, alerting.ErrUnknownDelivery):
		writeError(w, http.StatusNotFound, err.Error(), "id")
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error(), "")
	default:
		writeJSON(w, http.StatusAccepted, map[string]any{"delivery": d})
	}
}
