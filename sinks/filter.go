package sinks

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/opshub/opshub/model"
)

// Filter selects the records a sink receives. Empty lists select all.
type Filter struct {
	Projects   []string
	Services   []string
	Containers []string
	Streams    []string
	// Include keeps only lines matching it; Exclude drops lines matching it.
	Include string
	Exclude string
}

// matcher is a compiled Filter.
type matcher struct {
	f                Filter
	include, exclude *regexp.Regexp
	all              bool
}

func compileFilter(f Filter) (*matcher, error) {
	m := &matcher{f: f}
	var err error
	if f.Include != "" {
		if m.include, err = regexp.Compile(f.Include); err != nil {
			return nil, fmt.Errorf("filter.include: %w", err)
		}
	}
	if f.Exclude != "" {
		if m.exclude, err = regexp.Compile(f.Exclude); err != nil {
			return nil, fmt.Errorf("filter.exclude: %w", err)
		}
	}
	m.all = len(f.Projects) == 0 && len(f.Services) == 0 && len(f.Containers) == 0 &&
		len(f.Streams) == 0 && m.include == nil && m.exclude == nil
	return m, nil
}

func listed(list []string, v string) bool {
	return len(list) == 0 || slices.Contains(list, v)
}

// match reports whether the sink takes r.
func (m *matcher) match(r *model.LogRecord) bool {
	if m.all {
		return true
	}
	return listed(m.f.Projects, r.Project) &&
		listed(m.f.Services, r.Service) &&
		listed(m.f.Containers, r.Container) &&
		listed(m.f.Streams, r.Stream) &&
		(m.include == nil || m.include.MatchString(r.Log)) &&
		(m.exclude == nil || !m.exclude.MatchString(r.Log))
}
