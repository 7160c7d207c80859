package config

import (
	"encoding"
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Plugins own their settings (STYLE §4). A sink or integration type is
// implemented by a package (sinks/loki, alerting/notify/slack, …) that
// declares its settings as a struct with yaml tags, its defaults (the value
// a new settings holds) and its Validate. Config knows only a sink's or
// integration's common keys and its type; it keeps the type's own keys as a
// raw node and decodes that node into the type's settings with the same
// strict decoder as the rest of the file, so that an unknown key, a value of
// the wrong shape and every Validate error is reported with its line, all at
// once, by `opshub check-config` exactly as at start-up.

// PluginConfig is a plugin's settings: a pointer to a struct with yaml tags
// (and `config:"secret"` or `config:"path"` where they apply) holding the
// type's defaults before decoding. Validate reports every problem at once
// (errors.Join); each problem should start with the key it is about, as
// "url: must be an http or https URL" or "tls.keyFile: is required when
// certFile is given", so that it is reported at that key's line.
type PluginConfig = interface{ Validate() error }

// Plugins are the sink and integration types a build has. Parse asks it for
// a new settings value of each configured type.
type Plugins interface {
	// SinkSettings returns new settings for the sink type typ, holding
	// the type's defaults; false for a type the build does not have.
	SinkSettings(typ string) (PluginConfig, bool)
	// IntegrationSettings is SinkSettings for notification integrations.
	IntegrationSettings(typ string) (PluginConfig, bool)
	// SinkTypes and IntegrationTypes list the known types, sorted.
	SinkTypes() []string
	IntegrationTypes() []string
}

// noPlugins knows no type; a config built without Parse uses it.
type noPlugins struct{}

func (noPlugins) SinkSettings(string) (PluginConfig, bool)        { return nil, false }
func (noPlugins) IntegrationSettings(string) (PluginConfig, bool) { return nil, false }
func (noPlugins) SinkTypes() []string                             { return nil }
func (noPlugins) IntegrationTypes() []string                      { return nil }

// DecodePlugin decodes a plugin's node into settings and validates them, as
// Parse does for each sink and integration: ${VAR} expanded from the
// environment, "<key>File" secrets read, paths made absolute against the
// working directory, unknown keys refused. Errors carry the line of the key
// they are about. Tests of plugin packages build their settings with it.
func DecodePlugin(n *yaml.Node, settings PluginConfig) error {
	cwd, _ := os.Getwd()
	lines := lineIndex{}
	l := &loader{
		environment: environment{lookupEnv: os.LookupEnv, readFile: osReadLimited, cwd: cwd},
		rep:         newReporter("", lines),
		lines:       lines,
		vars:        expander{lookup: os.LookupEnv},
		budget:      maxNodes,
		active:      map[*yaml.Node]bool{},
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n != nil && !isNull(n) {
		l.value(n, "", reflect.ValueOf(settings).Elem(), 0)
	}
	if err := l.rep.err(); err != nil {
		return err
	}
	(&validator{rep: l.rep}).pluginSettings("", settings)
	return l.rep.err()
}

// decodePlugins decodes each sink's and integration's own keys into the
// settings of its type. An unknown type is left for validation to report.
func (l *loader) decodePlugins(c *Config) {
	sinkCommon := structInfoOf(reflect.TypeFor[Sink]()).known
	for i := range c.Sinks {
		s := &c.Sinks[i]
		s.Settings = l.decodePlugin(elem("sinks", i), s.Raw, sinkCommon, l.plugins.SinkSettings, s.Type)
	}
	integrationCommon := structInfoOf(reflect.TypeFor[Integration]()).known
	for i := range c.Notifications.Integrations {
		in := &c.Notifications.Integrations[i]
		in.Settings = l.decodePlugin(elem("notifications.integrations", i), in.Raw, integrationCommon, l.plugins.IntegrationSettings, in.Type)
	}
}

func (l *loader) decodePlugin(path string, raw *yaml.Node, common []string, settingsOf func(string) (PluginConfig, bool), typ string) PluginConfig {
	settings, ok := settingsOf(typ)
	if !ok {
		return nil
	}
	if raw == nil || len(raw.Content) == 0 {
		return settings
	}
	l.commonKeys[path] = common
	l.value(raw, path, reflect.ValueOf(settings).Elem(), 0)
	return settings
}

// pluginSettings runs a plugin's Validate and reports each problem at the
// key it names, or at the sink or integration itself.
func (v *validator) pluginSettings(path string, settings PluginConfig) {
	if settings == nil {
		return
	}
	for _, err := range Flatten(settings.Validate()) {
		msg := err.Error()
		if key, rest, ok := strings.Cut(msg, ": "); ok && keyPath.MatchString(key) {
			p := key
			if path != "" {
				p = path + "." + key
			}
			v.errorf(p, "%s", rest)
			continue
		}
		v.errorf(path, "%s", msg)
	}
}

// keyPath matches a dotted key path at the start of a plugin's message.
var keyPath = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// Flatten lists the problems of errors.Join'ed errors, nested or not.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// withSettings renders a sink or integration for Redacted: the common
// fields, then the type's effective settings (defaults included, every
// secret "<secret>"), inserted after name and type. Without settings (a
// type config does not know) the raw keys are shown with every value
// replaced.
func withSettings(common any, settings PluginConfig, raw *yaml.Node) (any, error) {
	var n yaml.Node
	if err := n.Encode(common); err != nil {
		return nil, err
	}
	var extra []*yaml.Node
	switch {
	case settings != nil:
		if m := encodeSettings(reflect.ValueOf(settings), false); m != nil {
			extra = m.Content
		}
	case raw != nil && raw.Kind == yaml.MappingNode:
		extra = redactAll(raw).Content
	}
	if len(extra) == 0 || n.Kind != yaml.MappingNode {
		return &n, nil
	}
	at := min(4, len(n.Content)) // after name and type
	n.Content = append(n.Content[:at], append(extra, n.Content[at:]...)...)
	return &n, nil
}

var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// encodeSettings renders a settings value as the decoder reads it, leaving
// out zero values; nil when there is nothing to show.
func encodeSettings(v reflect.Value, secret bool) *yaml.Node {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.IsZero() && v.Kind() != reflect.Struct {
		return nil
	}
	switch {
	case secret && v.Kind() == reflect.String:
		return scalarNode(redacted)
	case v.Type() == durationType:
		return scalarNode(Duration(v.Int()).String())
	case v.Type().Implements(textMarshalerType):
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return scalarNode(fmt.Sprint(v.Interface()))
		}
		return scalarNode(string(b))
	}
	switch v.Kind() {
	case reflect.Struct:
		info := structInfoOf(v.Type())
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, key := range info.known {
			f := info.byKey[key]
			if f.fromFile {
				continue
			}
			if c := encodeSettings(v.FieldByIndex(f.index), f.mode&secretValue != 0); c != nil {
				m.Content = append(m.Content, scalarNode(key), c)
			}
		}
		if len(m.Content) == 0 {
			return nil
		}
		return m
	case reflect.Map:
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, fmt.Sprint(k.Interface()))
		}
		sort.Strings(keys)
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range keys {
			c := encodeSettings(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), secret)
			if c == nil {
				c = scalarNode("")
			}
			m.Content = append(m.Content, scalarNode(k), c)
		}
		return m
	case reflect.Slice:
		s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range v.Len() {
			if c := encodeSettings(v.Index(i), secret); c != nil {
				s.Content = append(s.Content, c)
			}
		}
		return s
	}
	var n yaml.Node
	if err := n.Encode(v.Interface()); err != nil {
		return scalarNode(fmt.Sprint(v.Interface()))
	}
	return &n
}

func scalarNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// redactAll copies n with every scalar replaced by "<secret>".
func redactAll(n *yaml.Node) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		c := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.Content = append(c.Content, n.Content[i], redactAll(n.Content[i+1]))
		}
		return c
	case yaml.SequenceNode:
		c := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range n.Content {
			c.Content = append(c.Content, redactAll(e))
		}
		return c
	}
	return scalarNode(redacted)
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
