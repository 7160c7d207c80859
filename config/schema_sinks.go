package config

import "gopkg.in/yaml.v3"

// Sink forwards log records to one destination. The keys every sink has are
// fields here; the destination's own keys (url, auth, path, …) stay in Raw for
// the package that implements the destination to decode.
type Sink struct {
	// Name is unique among sinks; it labels the sink's metrics and buffer.
	Name string `yaml:"name"`
	// Type is one of SinkTypes.
	Type string `yaml:"type"`
	// Encoding is text or json; empty leaves it to the destination, and some
	// wire formats fix it.
	Encoding string     `yaml:"encoding,omitempty"`
	Filter   SinkFilter `yaml:"filter"`
	Buffer   SinkBuffer `yaml:"buffer"`
	Batch    SinkBatch  `yaml:"batch"`

	// Raw is a mapping node of the type's own keys as written (aliases and
	// merge keys resolved, nothing expanded), or nil when there are none.
	Raw *yaml.Node `yaml:"-" json:"-" config:"rest"`
	// Settings are the type's own keys decoded into the settings its
	// package declares (see Plugins), defaults applied, ${VAR} expanded,
	// secret files read, paths absolute and validated. Nil for a type the
	// build does not have, which Parse reports.
	Settings PluginConfig `yaml:"-" json:"-"`
}

// SinkFilter selects the records a sink receives. Empty lists select all.
type SinkFilter struct {
	Projects   []string `yaml:"projects,omitempty"`
	Services   []string `yaml:"services,omitempty"`
	Containers []string `yaml:"containers,omitempty"`
	// Streams are stdout and/or stderr.
	Streams []string `yaml:"streams,omitempty"`
	// Include keeps only lines matching this regular expression.
	Include string `yaml:"include,omitempty"`
	// Exclude drops lines matching this regular expression.
	Exclude string `yaml:"exclude,omitempty"`
}

// SinkBuffer is the on-disk buffer used while the destination is unreachable.
type SinkBuffer struct {
	// MaxBytes bounds the buffer; 0 disables it. Default 1Gi.
	MaxBytes ByteSize `yaml:"maxBytes"`
}

// SinkBatch bounds one delivery; a batch is sent when any bound is reached.
type SinkBatch struct {
	MaxEvents int      `yaml:"maxEvents"`
	MaxBytes  ByteSize `yaml:"maxBytes"`
	Timeout   Duration `yaml:"timeout"`
}

// Encodings of log records.
const (
	EncodingText = "text"
	EncodingJSON = "json"
)

// MarshalYAML writes the sink as one mapping, with the type's own keys after
// type, and every secret among them as "<secret>".
func (s Sink) MarshalYAML() (any, error) {
	type plain Sink
	return withSettings(plain(s), s.Settings, s.Raw)
}
