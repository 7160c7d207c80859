package config

import "gopkg.in/yaml.v3"

// Notifications are where events are delivered.
type Notifications struct {
	Integrations []Integration `yaml:"integrations,omitempty"`
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

	// Raw is a mapping node of the type's own keys, prepared as Sink.Raw is.
	Raw *yaml.Node `yaml:"-" json:"-" config:"rest"`
}

// MarshalYAML writes the integration as one mapping, with the type's own keys
// after type, and every secret among them as "<secret>".
func (i Integration) MarshalYAML() (any, error) {
	type plain Integration
	return withRaw(plain(i), i.Raw, integrationSchemas[i.Type])
}
