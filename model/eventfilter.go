package model

import "strings"

// MatchEvent reports whether event passes a filter list of exact names and
// "prefix.*" patterns. An empty list passes every event.
func MatchEvent(filters []string, event string) bool {
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		if f == event {
			return true
		}
		if p, ok := strings.CutSuffix(f, ".*"); ok && strings.HasPrefix(event, p+".") {
			return true
		}
	}
	return false
}
