package config

import "time"

// Alerts tune the detectors that turn platform signals into events.
type Alerts struct {
	// Throttle allows at most one notification per resource per window. The
	// key is "default" or an event name; 0s means no throttling.
	Throttle  map[string]Duration `yaml:"throttle"`
	CrashLoop CrashLoop           `yaml:"crashLoop"`
	CPU       UsageAlert          `yaml:"cpu"`
	Memory    UsageAlert          `yaml:"memory"`
	Volume    VolumeAlert         `yaml:"volume"`
	Silences  []Silence           `yaml:"silences,omitempty"`
}

// ThrottleDefault is the Throttle key for events without their own window.
const ThrottleDefault = "default"

// ThrottleFor returns the throttle window of an event.
func (a Alerts) ThrottleFor(event string) time.Duration {
	if d, ok := a.Throttle[event]; ok {
		return d.D()
	}
	return a.Throttle[ThrottleDefault].D()
}

// CrashLoop fires container.crashloop after Restarts restarts within Window.
type CrashLoop struct {
	Restarts int      `yaml:"restarts"`
	Window   Duration `yaml:"window"`
}

// UsageAlert fires a spike event when usage crosses Threshold percent of the
// limit, and a sustained event when it stays there for SustainedFor.
type UsageAlert struct {
	Threshold    float64  `yaml:"threshold"`
	SustainedFor Duration `yaml:"sustainedFor"`
}

// VolumeAlert fires volume.usage at each threshold (percent of capacity) and
// volume.forecast-full when the volume is predicted full within
// ForecastFullWithin (0 disables the forecast).
type VolumeAlert struct {
	Thresholds         []float64 `yaml:"thresholds"`
	ForecastFullWithin Duration  `yaml:"forecastFullWithin"`
}

// Silence mutes events matching every matcher until Until.
type Silence struct {
	// Matchers map project, service, instance, container or event to a value;
	// event accepts "prefix.*".
	Matchers map[string]string `yaml:"matchers"`
	Until    time.Time         `yaml:"until"`
	Comment  string            `yaml:"comment,omitempty"`
}

// SilenceMatcherKeys are the keys a silence may match on.
var SilenceMatcherKeys = []string{"project", "service", "instance", "container", "event"}
