package config

import (
	"regexp"
	"slices"
	"strings"
)

func (v *validator) collector(c Collector) {
	if c.MaxLineBytes < 16*KiB {
		v.errorf("collector.maxLineBytes", "must be at least 16Ki, got %s", c.MaxLineBytes)
	}
	for i, p := range c.Paths {
		if p == "" {
			v.errorf(elem("collector.paths", i), "must not be empty")
		}
	}
}

func (v *validator) sinks(sinks []Sink) {
	names := map[string]string{}
	for i, s := range sinks {
		p := elem("sinks", i)
		if v.name(child(p, "name"), s.Name) {
			v.unique(names, s.Name, child(p, "name"), "sink name")
		}
		v.destinationType(child(p, "type"), "sink", s.Type, v.plugins().SinkTypes())
		v.pluginSettings(p, s.Settings)
		if s.Encoding != "" {
			v.oneOf(child(p, "encoding"), s.Encoding, EncodingText, EncodingJSON)
		}
		fp := child(p, "filter")
		for j, st := range s.Filter.Streams {
			v.oneOf(elem(child(fp, "streams"), j), st, "stdout", "stderr")
		}
		v.regexp(child(fp, "include"), s.Filter.Include)
		v.regexp(child(fp, "exclude"), s.Filter.Exclude)
		bp := child(p, "batch")
		v.atLeast(child(bp, "maxEvents"), s.Batch.MaxEvents, 1)
		if s.Batch.MaxBytes < 1 {
			v.errorf(child(bp, "maxBytes"), "must be more than 0")
		}
		if s.Batch.Timeout <= 0 {
			v.errorf(child(bp, "timeout"), "must be more than 0s")
		}
	}
}

// plugins are the types the config was parsed with; a config built in code
// knows none, and its types are then not checked.
func (v *validator) plugins() Plugins {
	if v.cfg == nil || v.cfg.plugins == nil {
		return noPlugins{}
	}
	return v.cfg.plugins
}

// destinationType checks the type of a sink or an integration.
func (v *validator) destinationType(path, what, typ string, known []string) {
	switch {
	case typ == "":
		v.errorf(path, "is required: one of %s", strings.Join(known, ", "))
	case len(known) > 0 && !slices.Contains(known, typ):
		v.errorf(path, "unknown %s type %q%s (known types: %s)", what, truncate(typ, 40), suggest(typ, known, ""), strings.Join(known, ", "))
	}
}

func (v *validator) regexp(path, expr string) {
	if expr == "" {
		return
	}
	if _, err := regexp.Compile(expr); err != nil {
		v.errorf(path, "is not a valid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
}

func (v *validator) notifications(n Notifications) {
	v.retry(n)
	names := map[string]string{}
	for i, in := range n.Integrations {
		p := elem("notifications.integrations", i)
		if v.name(child(p, "name"), in.Name) {
			v.unique(names, in.Name, child(p, "name"), "integration name")
		}
		v.destinationType(child(p, "type"), "integration", in.Type, v.plugins().IntegrationTypes())
		v.pluginSettings(p, in.Settings)
		for j, e := range in.Events {
			if msg := checkEventFilter(e); msg != "" {
				v.errorf(elem(child(p, "events"), j), "%s", msg)
			}
		}
		for j, pr := range in.Projects {
			v.name(elem(child(p, "projects"), j), pr)
		}
		for j, s := range in.Services {
			v.name(elem(child(p, "services"), j), s)
		}
		for j, t := range in.Tags {
			v.tag(elem(child(p, "tags"), j), t)
		}
	}
}
