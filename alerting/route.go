package alerting

import (
	"slices"

	"github.com/opshub/opshub/model"
)

// Route is an integration's filter: which events it wants.
type Route struct {
	// Events are names or "prefix.*"; empty means all.
	Events []string
	// Projects and Services restrict events to these; empty means all.
	Projects []string
	Services []string
	// SkipResolved leaves out resolved events.
	SkipResolved bool
}

// Matches reports whether ev goes to an integration with this route.
func (r Route) Matches(ev model.Event) bool {
	if r.SkipResolved && ev.Status == model.StatusResolved {
		return false
	}
	if !model.MatchEvent(r.Events, ev.Name) {
		return false
	}
	if len(r.Projects) > 0 && !slices.Contains(r.Projects, ev.Project) {
		return false
	}
	if len(r.Services) > 0 && !slices.Contains(r.Services, ev.Service) {
		return false
	}
	return true
}
