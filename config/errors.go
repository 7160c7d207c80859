package config

import (
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a config file, located by line and key path.
type Error struct {
	// File is the name given to Parse or Load; it may be empty.
	File string
	// Line is the 1-based line of the offending key or value, or 0 when the
	// problem has no single line (a config built in code, an unreadable file).
	Line int
	// Path names the key, like "workloads[0].probes.liveness.periodSeconds";
	// it is empty for problems with the file as a whole.
	Path string
	// Msg says what is wrong. It never contains a secret value.
	Msg string
}

// Error renders the problem as "file:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one config file. Load and Parse return it
// sorted by line.
type Errors []*Error

// Error renders one problem per line, sorted by line.
func (es Errors) Error() string {
	sorted := slices.Clone(es)
	sortErrors(sorted)
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sortErrors orders errors by line and then by path, keeping the discovery
// order of errors on the same key.
func sortErrors(es Errors) {
	slices.SortStableFunc(es, func(a, b *Error) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Path, b.Path)
	})
}

// reporter collects errors while a config is decoded and validated. Decoding
// problems mark their path as failed so that validation does not report a
// second, derived problem for the same key (a value that could not be decoded
// is left at its default, which validation might then reject).
type reporter struct {
	file   string
	lines  lineIndex
	errs   Errors
	failed map[string]bool
}

func newReporter(file string, lines lineIndex) *reporter {
	if lines == nil {
		lines = lineIndex{}
	}
	return &reporter{file: file, lines: lines, failed: map[string]bool{}}
}

// fail records a decoding problem at a known line.
func (r *reporter) fail(line int, path, format string, args ...any) {
	r.failed[path] = true
	r.add(line, path, fmt.Sprintf(format, args...))
}

// errorf records a validation problem; its line comes from the path.
func (r *reporter) errorf(path, format string, args ...any) {
	if r.suppressed(path) {
		return
	}
	r.add(r.lines.line(path), path, fmt.Sprintf(format, args...))
}

func (r *reporter) add(line int, path, msg string) {
	if line < 0 {
		line = 0
	}
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Path: path, Msg: msg})
}

// suppressed reports whether path, or a key that contains it, already failed
// to decode.
func (r *reporter) suppressed(path string) bool {
	for {
		if r.failed[path] {
			return true
		}
		if path == "" {
			return false
		}
		path = parent(path)
	}
}

// err returns the collected errors sorted by line, or nil.
func (r *reporter) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	sortErrors(r.errs)
	return r.errs
}
