package config

import (
	"regexp"
	"strconv"
	"strings"
)

// Key paths name a place in the config the way users read it:
// "workloads[0].probes.liveness.periodSeconds", or `alerts.throttle["container.crash"]`
// for a map key that is not a plain word.

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// child is the path of key inside the mapping at path.
func child(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// elem is the path of the i-th element of the sequence at path.
func elem(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// parent strips the last component from path.
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// lineIndex maps every key path seen while decoding to its line, so that
// validation, which works on decoded values, can report by path.
type lineIndex map[string]int

// line returns the line of path, or of the closest enclosing key that was in
// the file (a missing key is reported at the mapping that lacks it).
func (x lineIndex) line(path string) int {
	for {
		if l, ok := x[path]; ok {
			return l
		}
		if path == "" {
			return 0
		}
		path = parent(path)
	}
}

// has reports whether path was written in the file.
func (x lineIndex) has(path string) bool {
	_, ok := x[path]
	return ok
}
