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
	// Tags restrict events to services that have one of these tags, as
	// TagsOf tells them; an event about no service has none. Empty means
	// all.
	Tags   []string
	TagsOf func(project, service string) []string
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
	if len(r.Tags) > 0 {
		if ev.Service == "" || r.TagsOf == nil {
			return false
		}
		tags := r.TagsOf(ev.Project, ev.Service)
		if !slices.ContainsFunc(r.Tags, func(t string) bool { return slices.Contains(tags, t) }) {
			return false
		}
	}
	return true
}
