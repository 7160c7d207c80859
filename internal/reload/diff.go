package reload

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugins"
)

// splitSections are the sections whose keys are reported one by one
// ("server.listen") when they need a restart; the others by their name.
var splitSections = map[string]bool{"server": true, "platform": true, "collector": true}

// restartRequired names what differs between the config the process
// started with and next, apart from the log sinks (applied live): the
// top-level sections, the keys of splitSections, and each metrics
// remote-write sink.
func restartRequired(started, next *config.Config) []string {
	var out []string
	a, b := reflect.ValueOf(started).Elem(), reflect.ValueOf(next).Elem()
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" || name == "sinks" {
			continue
		}
		if !splitSections[name] || f.Type.Kind() != reflect.Struct {
			if !sameValue(a.Field(i), b.Field(i)) {
				out = append(out, name)
			}
			continue
		}
		for j := range f.Type.NumField() {
			sub := yamlName(f.Type.Field(j))
			if sub != "" && !sameValue(a.Field(i).Field(j), b.Field(i).Field(j)) {
				out = append(out, name+"."+sub)
			}
		}
	}
	return append(out, sampleSinkChanges(started, next)...)
}

// sampleSinkChanges names the sinks of metric samples added, removed or
// changed: they are built at start with the metrics pipeline.
func sampleSinkChanges(started, next *config.Config) []string {
	index := func(c *config.Config) map[string]config.Sink {
		m := map[string]config.Sink{}
		for _, s := range c.Sinks {
			if plugins.IsSampleSink(s.Type) {
				m[s.Name] = s
			}
		}
		return m
	}
	before, after := index(started), index(next)
	var out []string
	seen := map[string]bool{}
	for _, c := range []*config.Config{started, next} {
		for _, s := range c.Sinks {
			if !plugins.IsSampleSink(s.Type) || seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			x, inBefore := before[s.Name]
			y, inAfter := after[s.Name]
			if inBefore != inAfter || !sameValue(reflect.ValueOf(x), reflect.ValueOf(y)) {
				out = append(out, fmt.Sprintf("sinks[%s] (%s)", s.Name, s.Type))
			}
		}
	}
	return out
}

// yamlName is the key of a struct field in the config file, or "" for a
// field that is not one.
func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

var nodeType = reflect.TypeFor[*yaml.Node]()

// sameValue compares two config values by what they say: exported fields,
// elements and map entries; YAML nodes (a destination's own keys) by kind,
// tag and value, not by where they stood in the file; nil and empty lists
// and maps alike.
func sameValue(a, b any) bool {
	va, ok := a.(reflect.Value)
	if !ok {
		va = reflect.ValueOf(a)
	}
	vb, ok := b.(reflect.Value)
	if !ok {
		vb = reflect.ValueOf(b)
	}
	return sameReflect(va, vb)
}

func sameReflect(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == nodeType {
		return sameYAML(a.Interface().(*yaml.Node), b.Interface().(*yaml.Node))
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameReflect(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() && !sameReflect(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameReflect(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		iter := a.MapRange()
		for iter.Next() {
			other := b.MapIndex(iter.Key())
			if !other.IsValid() || !sameReflect(iter.Value(), other) {
				return false
			}
		}
		return true
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return a.IsNil() && b.IsNil()
	default:
		return a.Equal(b)
	}
}

// sameYAML compares two YAML nodes by kind, tag and value, recursively.
func sameYAML(a, b *yaml.Node) bool {
	if a == nil || b == nil {
		return (a == nil || a.Kind == yaml.MappingNode && len(a.Content) == 0) &&
			(b == nil || b.Kind == yaml.MappingNode && len(b.Content) == 0)
	}
	for a.Kind == yaml.AliasNode && a.Alias != nil {
		a = a.Alias
	}
	for b.Kind == yaml.AliasNode && b.Alias != nil {
		b = b.Alias
	}
	if a.Kind != b.Kind || a.Value != b.Value || a.ShortTag() != b.ShortTag() || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameYAML(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}
