package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/opshub/opshub/model"
)

// EventNames are the events alerts and notifications are about; the list
// lives in model with the names themselves.
var EventNames = model.EventNames

// eventPrefixes are the parts before the dot, in the order of EventNames.
func eventPrefixes() []string {
	var ps []string
	for _, n := range EventNames {
		p, _, _ := strings.Cut(n, ".")
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// MatchEvent reports whether event passes a filter list of exact names and
// "prefix.*" patterns. An empty list passes every event.
func MatchEvent(filters []string, event string) bool { return model.MatchEvent(filters, event) }

// checkEventFilter says what is wrong with one filter entry, or "".
func checkEventFilter(f string) string {
	if p, ok := strings.CutSuffix(f, ".*"); ok {
		if slices.Contains(eventPrefixes(), p) {
			return ""
		}
		return fmt.Sprintf("unknown event prefix %q%s (known prefixes: %s)",
			truncate(f, 60), suggest(p, eventPrefixes(), ".*"), strings.Join(withSuffix(eventPrefixes(), ".*"), ", "))
	}
	if slices.Contains(EventNames, f) {
		return ""
	}
	return fmt.Sprintf("unknown event %q%s (known events: %s; or a prefix such as container.*)",
		truncate(f, 60), suggest(f, EventNames, ""), strings.Join(EventNames, ", "))
}

func withSuffix(ss []string, suffix string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s + suffix
	}
	return out
}
