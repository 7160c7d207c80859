package alerting

import (
	"time"

	"github.com/opshub/opshub/model"
)

// silenced reports whether a silence in force at now matches ev: every one of
// its matchers must match (event by name or "prefix.*").
func silenced(silences []Silence, ev model.Event, now time.Time) bool {
	for _, s := range silences {
		if !now.Before(s.Until) {
			continue
		}
		if silenceMatches(s.Matchers, ev) {
			return true
		}
	}
	return false
}

func silenceMatches(m map[string]string, ev model.Event) bool {
	if len(m) == 0 {
		return false
	}
	container, _ := ev.Data["container"].(string)
	for k, want := range m {
		var ok bool
		switch k {
		case "project":
			ok = ev.Project == want
		case "service":
			ok = ev.Service == want
		case "instance":
			ok = ev.Instance == want
		case "container":
			ok = container == want
		case "event":
			ok = model.MatchEvent([]string{want}, ev.Name)
		}
		if !ok {
			return false
		}
	}
	return true
}
