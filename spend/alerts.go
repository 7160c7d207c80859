package spend

import (
	"fmt"
	"sort"
	"time"

	"github.com/opshub/opshub/model"
)

// Threshold is a spend amount to be told about, for one project or, when
// Project is empty, in total.
type Threshold struct {
	Amount  float64
	Project string
}

// AlertState remembers which alerts were sent, so that a threshold fires
// once per amount per month and a forecast once per amount per day, across
// restarts. Callers persist it.
type AlertState struct {
	Sent map[string]time.Time `json:"sent"`
}

// Alerts evaluates the thresholds against the ledger at now and returns the
// events to send, marking them in st:
//   - spend.threshold when month-to-date spend reaches an amount, once per
//     amount and project per billing month;
//   - spend.forecast when the month-end forecast from the last 7 days'
//     pace reaches an amount the month has not reached yet, at most once a
//     day per amount and project, so that accelerating spend is announced
//     before the threshold itself is passed.
func (l *Ledger) Alerts(now time.Time, currency string, thresholds []Threshold, st *AlertState) []model.Event {
	if st.Sent == nil {
		st.Sent = map[string]time.Time{}
	}
	monthStart, _ := l.Month(now)
	month := monthStart.Format("2006-01")
	day := now.In(l.tz).Format("2006-01-02")
	ordered := append([]Threshold(nil), thresholds...)
	sort.SliceStable(ordered, func(i, j int) bool {
		if ordered[i].Project != ordered[j].Project {
			return ordered[i].Project < ordered[j].Project
		}
		return ordered[i].Amount < ordered[j].Amount
	})
	var events []model.Event
	for _, t := range ordered {
		scope := t.Project
		if scope == "" {
			scope = "*"
		}
		mtd := l.MonthToDate(now, t.Project)
		who := "total spend"
		if t.Project != "" {
			who = "spend of project " + t.Project
		}
		if mtd >= t.Amount {
			key := fmt.Sprintf("threshold/%s/%s/%g", month, scope, t.Amount)
			if _, sent := st.Sent[key]; !sent {
				st.Sent[key] = now
				events = append(events, spendEvent(model.EventSpendThreshold, model.SeverityWarning, now, t.Project,
					fmt.Sprintf("month-to-date %s passed %s (%s)", who, money(t.Amount, currency), money(mtd, currency)),
					map[string]any{"amount": t.Amount, "monthToDate": round2(mtd), "month": month, "currency": currency}))
			}
			continue
		}
		f := l.ForecastFor(now, t.Project)
		if f.Week >= t.Amount {
			key := fmt.Sprintf("forecast/%s/%s/%g", day, scope, t.Amount)
			if _, sent := st.Sent[key]; !sent {
				st.Sent[key] = now
				events = append(events, spendEvent(model.EventSpendForecast, model.SeverityInfo, now, t.Project,
					fmt.Sprintf("%s is forecast to reach %s this month (%s at the last 7 days' pace; %s so far)", who, money(t.Amount, currency), money(f.Week, currency), money(mtd, currency)),
					map[string]any{"amount": t.Amount, "forecast": round2(f.Week), "forecastLinear": round2(f.Month), "monthToDate": round2(mtd), "month": month, "currency": currency}))
			}
		}
	}
	// Forget what can no longer matter: earlier months' marks.
	for key, at := range st.Sent {
		if at.Before(monthStart.AddDate(0, -1, 0)) {
			delete(st.Sent, key)
		}
	}
	return events
}

func spendEvent(name string, sev model.Severity, now time.Time, project, summary string, data map[string]any) model.Event {
	return model.Event{Name: name, Status: model.StatusFiring, Severity: sev, Time: now, Project: project, Summary: summary, Data: data}
}

func money(v float64, currency string) string { return fmt.Sprintf("%.2f %s", v, currency) }

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
