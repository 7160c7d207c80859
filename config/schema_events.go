package config

import (
	"fmt"
	"slices"
	"strings"
)

// EventNames are the events alerts and notifications are about, as fixed by
// the user-facing contract.
var EventNames = []string{
	"container.crash", "container.oom", "container.crashloop", "container.eviction",
	"container.cpu-spike", "container.cpu-sustained", "container.memory-spike", "container.memory-sustained",
	"volume.usage", "volume.forecast-full",
	"probe.failing",
	"deploy.started", "deploy.succeeded", "deploy.failed", "deploy.rolled-back",
	"autoscaling.scaled", "autoscaling.limited",
	"flow.started", "flow.succeeded", "flow.failed",
	"spend.threshold", "spend.forecast",
	"sink.failing", "sink.recovered",
}

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
