package alerting

import (
	"testing"

	"github.com/opshub/opshub/model"
)

func TestRouteTags(t *testing.T) {
	tagsOf := func(project, service string) []string {
		return map[string][]string{"demo/web": {"api", "public"}, "demo/worker": {"batch"}}[project+"/"+service]
	}
	for _, tc := range []struct {
		name  string
		route Route
		ev    model.Event
		want  bool
	}{
		{"a service with one of the tags", Route{Tags: []string{"batch", "api"}, TagsOf: tagsOf}, model.Event{Project: "demo", Service: "web"}, true},
		{"a service without them", Route{Tags: []string{"api"}, TagsOf: tagsOf}, model.Event{Project: "demo", Service: "worker"}, false},
		{"an unknown service", Route{Tags: []string{"api"}, TagsOf: tagsOf}, model.Event{Project: "shop", Service: "web"}, false},
		{"an event about no service", Route{Tags: []string{"api"}, TagsOf: tagsOf}, model.Event{Name: model.EventSpendThreshold}, false},
		{"tags and projects both match", Route{Projects: []string{"demo"}, Tags: []string{"public"}, TagsOf: tagsOf}, model.Event{Project: "demo", Service: "web"}, true},
		{"tags match, the project does not", Route{Projects: []string{"shop"}, Tags: []string{"public"}, TagsOf: tagsOf}, model.Event{Project: "demo", Service: "web"}, false},
		{"no tags in the route", Route{TagsOf: tagsOf}, model.Event{Project: "demo", Service: "worker"}, true},
	} {
		if got := tc.route.Matches(tc.ev); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
