package model

import "time"

// LogRecord is one line of container output after parsing and enrichment.
// Its JSON form is the record of the user-facing contract:
//
//	{"ts": "…", "project": "demo", "service": "web", "instance": "web-7f9c-2",
//	 "container": "web", "stream": "stdout", "log": "GET / 200", "labels": {"app": "web"}}
type LogRecord struct {
	Time time.Time `json:"ts"`
	Ref
	Stream string `json:"stream"` // stdout | stderr
	Log    string `json:"log"`
	Labels Labels `json:"labels,omitempty"`
	// Truncated is set when the line was longer than collector.maxLineBytes
	// and was cut (the cut is also marked in Log).
	Truncated bool `json:"truncated,omitempty"`
}
