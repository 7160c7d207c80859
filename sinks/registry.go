package sinks

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// The registry maps a sink's type, as written in config, to the constructor
// of its destination. internal/app fills it once at start-up; the machinery
// looks types up when it builds a Router.
var registry = struct {
	sync.RWMutex
	factories map[string]Factory
}{factories: map[string]Factory{}}

// Register makes a destination type known under kind. It panics when kind is
// empty, f is nil or kind is taken: that is a wiring mistake, found at start.
func Register(kind string, f Factory) {
	if kind == "" || f == nil {
		panic("sinks: Register needs a kind and a factory")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.factories[kind]; dup {
		panic(fmt.Sprintf("sinks: destination type %q registered twice", kind))
	}
	registry.factories[kind] = f
}

// Lookup returns the factory of kind. For an unknown kind the error lists
// the known ones.
func Lookup(kind string) (Factory, error) {
	registry.RLock()
	defer registry.RUnlock()
	if f, ok := registry.factories[kind]; ok {
		return f, nil
	}
	known := "none"
	if k := kindsLocked(); len(k) > 0 {
		known = strings.Join(k, ", ")
	}
	return nil, fmt.Errorf("unknown sink type %q (known types: %s)", kind, known)
}

// Kinds lists the registered destination types, sorted.
func Kinds() []string {
	registry.RLock()
	defer registry.RUnlock()
	return kindsLocked()
}

func kindsLocked() []string {
	out := make([]string, 0, len(registry.factories))
	for k := range registry.factories {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
