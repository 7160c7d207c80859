package server

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/opshub/opshub/spend"
)

// SpendReader is what the spend endpoint reads. *spend.Meter satisfies it.
type SpendReader interface {
	Report(from, to time.Time, by []string) spend.Report
	Month() (start, end time.Time)
	Currency() string
}

// spendResponse is the body of GET /api/v1/spend.
type spendResponse struct {
	Currency string  `json:"currency"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	Total    float64 `json:"total"`
	// Forecast is the month-end estimate at the last 7 days' pace;
	// Forecasts has both methods.
	Forecast  float64        `json:"forecast"`
	Forecasts spend.Forecast `json:"forecasts"`
	Rows      []spendRow     `json:"rows"`
}

type spendRow struct {
	Project  string  `json:"project,omitempty"`
	Service  string  `json:"service,omitempty"`
	Instance string  `json:"instance,omitempty"`
	Resource string  `json:"resource,omitempty"`
	Cost     float64 `json:"cost"`
}

var spendDimensions = map[string]bool{"project": true, "service": true, "instance": true, "resource": true}

// getSpend answers with the spend of [from, to) (default: the current
// billing month so far) broken down by the `by` dimensions (default
// project,service,resource).
func (s *Server) getSpend(w http.ResponseWriter, r *http.Request) {
	if s.opts.Spend == nil {
		writeError(w, http.StatusNotFound, "spend is not running in this opshub", "")
		return
	}
	q := r.URL.Query()
	by := []string{"project", "service", "resource"}
	if v := q.Get("by"); v != "" {
		by = strings.Split(v, ",")
		for _, d := range by {
			if !spendDimensions[d] {
				writeError(w, http.StatusBadRequest, "by: unknown dimension "+d+" (project, service, instance, resource)", "by")
				return
			}
		}
	}
	from, to := s.opts.Spend.Month()
	to = time.Now()
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name+": want an RFC 3339 time such as 2026-11-01T00:00:00Z", p.name)
				return
			}
			*p.dst = t
		}
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from must be before to", "from")
		return
	}
	rep := s.opts.Spend.Report(from, to, by)
	out := spendResponse{
		Currency: s.opts.Spend.Currency(), From: from.Format(time.RFC3339), To: to.Format(time.RFC3339),
		Total: cents(rep.Total), Forecast: cents(rep.Forecast.Week),
		Forecasts: spend.Forecast{Month: cents(rep.Forecast.Month), Week: cents(rep.Forecast.Week)},
		Rows:      make([]spendRow, 0, len(rep.Rows)),
	}
	for _, row := range rep.Rows {
		out.Rows = append(out.Rows, spendRow{Project: row.Project, Service: row.Service, Instance: row.Instance, Resource: string(row.Resource), Cost: cents(row.Cost)})
	}
	writeJSON(w, http.StatusOK, out)
}

// cents rounds money to a millionth of the currency unit: enough for the
// fractions of a cent a small service costs in a minute, without the noise
// of floating-point sums. The ledger keeps full precision.
func cents(v float64) float64 {
	return math.Round(v*1e6) / 1e6
}
