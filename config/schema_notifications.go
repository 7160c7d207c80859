package config

import "gopkg.in/yaml.v3"

// Notifications are where events are delivered.
type Notifications struct {
	// Retry is how every integration retries, unless it says otherwise.
	Retry        Retry         `yaml:"retry"`
	Integrations []Integration `yaml:"integrations,omitempty"`
}

// Retry says how a delivery that failed is retried, and when an integration
// that keeps failing is disabled.
type Retry struct {
	// InitialBackoff and MaxBackoff bound the exponential back-off between
	// attempts (with ±20 % jitter, never sooner than the destination's
	// Retry-After).
	InitialBackoff Duration `yaml:"initialBackoff,omitempty"`
	MaxBackoff     Duration `yaml:"maxBackoff,omitempty"`
	// GiveUpAfter is how long after it was queued a delivery is still tried.
	GiveUpAfter Duration `yaml:"giveUpAfter,omitempty"`
	// DisableAfter failed deliveries in a row disable the integration.
	DisableAfter int `yaml:"disableAfter,omitempty"`
}

// RetryFor is an integration's retry settings: its own where it gives them,
// the notifications-wide ones otherwise.
func (n Notifications) RetryFor(in Integration) Retry {
	r := n.Retry
	if o := in.Retry; o != nil {
		if o.InitialBackoff > 0 {
			r.InitialBackoff = o.InitialBackoff
		}
		if o.MaxBackoff > 0 {
			r.MaxBackoff = o.MaxBackoff
		}
		if o.GiveUpAfter > 0 {
			r.GiveUpAfter = o.GiveUpAfter
		}
		if o.DisableAfter > 0 {
			r.DisableAfter = o.DisableAfter
		}
	}
	return r
}

// Integration delivers events to one destination. As with Sink, the keys
// every integration has are fields here and the destination's own keys
// (token, channel, url, …) stay in Raw.
type Integration struct {
	// Name is unique among integrations.
	Name string `yaml:"name"`
	// Type is one of IntegrationTypes.
	Type string `yaml:"type"`
	// Events are event names or "prefix.*"; empty means every event.
	Events []string `yaml:"events,omitempty"`
	// Projects and Services restrict events to these; empty means all.
	Projects []string `yaml:"projects,omitempty"`
	Services []string `yaml:"services,omitempty"`
	// Tags restrict events to services with one of these tags; empty
	// means all. An event about no service (spend, sinks) has no tags.
	Tags []string `yaml:"tags,omitempty"`
	// Retry overrides the keys of notifications.retry it gives; nil keeps
	// them all.
	Retry *Retry `yaml:"retry,omitempty"`

	// Raw and Settings are the type's own keys, as in Sink.
	Raw      *yaml.Node   `yaml:"-" json:"-" config:"rest"`
	Settings PluginConfig `yaml:"-" json:"-"`
}

// MarshalYAML writes the integration as one mapping, with the type's own keys
// after type, and every secret among them as "<secret>".
func (i Integration) MarshalYAML() (any, error) {
	type plain Integration
	return withSettings(plain(i), i.Settings, i.Raw)
}
