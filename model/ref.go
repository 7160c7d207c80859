package model

import "strings"

// Ref names one thing opshub watches. Fields further right may be empty: a
// Ref with only Project and Service names a service, one with Instance names
// an instance, and one with Container names a single container.
type Ref struct {
	Project   string `json:"project,omitempty"`
	Service   string `json:"service,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Container string `json:"container,omitempty"`
}

// String renders the ref as project/service[/instance[/container]].
func (r Ref) String() string {
	parts := []string{r.Project, r.Service}
	if r.Instance != "" {
		parts = append(parts, r.Instance)
	}
	if r.Container != "" {
		parts = append(parts, r.Container)
	}
	return strings.Join(parts, "/")
}

// ServiceRef returns the ref of the service this ref belongs to.
func (r Ref) ServiceRef() Ref { return Ref{Project: r.Project, Service: r.Service} }

// Labels are enrichment key/value pairs attached to records.
type Labels map[string]string
