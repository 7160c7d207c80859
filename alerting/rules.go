package alerting

import (
	"time"
)

// Rules tune the detectors, the throttle and the silences. The binary maps
// config's alerts section onto them; the pipeline knows nothing of config.
type Rules struct {
	// Throttle allows at most one notification per resource per window,
	// by event name or ThrottleDefault; zero means no throttling.
	Throttle  map[string]time.Duration
	CrashLoop CrashLoop
	CPU       UsageRule
	Memory    UsageRule
	Volume    VolumeRule
	Silences  []Silence
}

// ThrottleDefault is the Throttle key for events without their own window.
const ThrottleDefault = "default"

// ThrottleFor returns the throttle window of an event.
func (r Rules) ThrottleFor(event string) time.Duration {
	if d, ok := r.Throttle[event]; ok {
		return d
	}
	return r.Throttle[ThrottleDefault]
}

// Silence mutes events matching every matcher until Until.
type Silence struct {
	// Matchers map project, service, instance, container or event to a
	// value; event accepts "prefix.*".
	Matchers map[string]string
	Until    time.Time
}
