package config

import (
	"github.com/opshub/opshub/internal/vars"

	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Validation works on decoded values and reports by key path; the reporter
// turns a path into the line it was written on (or the line of the mapping
// that lacks it). The same checks run for a file (Parse) and for a config
// built in code (Validate).

// Validate checks a config built or changed in code with the checks Parse
// runs after decoding. It does not read files or the environment.
func (c *Config) Validate() error {
	rep := newReporter("", nil)
	if c.source != nil {
		rep = newReporter(c.source.file, c.source.lines)
	}
	validate(c, rep)
	return rep.err()
}

func validate(c *Config, rep *reporter) {
	v := &validator{rep: rep, cfg: c}
	if c.DataDir == "" {
		v.errorf("dataDir", "must not be empty")
	}
	v.server(c.Server)
	v.platform(c)
	if c.Platform.Kind != PlatformKubernetes {
		v.workloads(c.Workloads)
	}
	v.groups(c.Groups)
	v.collector(c.Collector)
	v.nodeAgent(c)
	v.sinks(c.Sinks)
	v.notifications(c.Notifications)
	v.alerts(c.Alerts)
	v.spend(c.Spend)
	v.autoscaling(c.Autoscaling)
	v.release(c.Release)
}

type validator struct {
	rep *reporter
	cfg *Config
}

func (v *validator) errorf(path, format string, args ...any) {
	v.rep.errorf(path, format, args...)
}

// given reports whether the key at path was written in the file.
func (v *validator) given(path string) bool { return v.rep.lines.has(path) }

// at describes where path was written, for messages about a second place.
func (v *validator) at(path string) string {
	if l := v.rep.lines.line(path); l > 0 {
		return fmt.Sprintf("%s (line %d)", path, l)
	}
	return path
}

// oneOf checks that value is one of allowed.
func (v *validator) oneOf(path, value string, allowed ...string) bool {
	if slices.Contains(allowed, value) {
		return true
	}
	if value == "" {
		v.errorf(path, "is required: one of %s", strings.Join(allowed, ", "))
		return false
	}
	v.errorf(path, "must be one of %s, got %q%s", strings.Join(allowed, ", "), truncate(value, 40), suggest(value, allowed, ""))
	return false
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// name checks a name that appears in paths, URLs and file names: a DNS label.
func (v *validator) name(path, value string) bool {
	switch {
	case value == "":
		v.errorf(path, "is required")
	case len(value) > 63:
		v.errorf(path, "must be at most 63 characters, got %d", len(value))
	case !dnsLabel.MatchString(value):
		v.errorf(path, "must be a DNS label (lowercase letters, digits and '-', starting and ending with a letter or digit), got %q", truncate(value, 40))
	default:
		return true
	}
	return false
}

// dnsSubdomain is a Kubernetes object name of a cluster-scoped kind.
var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// subdomain checks a Kubernetes object name that may hold dots.
func (v *validator) subdomain(path, value string) {
	switch {
	case len(value) > 253:
		v.errorf(path, "must be at most 253 characters, got %d", len(value))
	case !dnsSubdomain.MatchString(value):
		v.errorf(path, "must be a DNS subdomain (lowercase letters, digits, '-' and '.'), got %q", truncate(value, 40))
	}
}

// unique reports value when an earlier element already used it, and
// returns false then.
func (v *validator) unique(seen map[string]string, value, path, what string) bool {
	if value == "" {
		return true
	}
	if first, dup := seen[value]; dup {
		v.errorf(path, "duplicate %s %q, first used at %s", what, truncate(value, 40), v.at(first))
		return false
	}
	seen[value] = path
	return true
}

// between checks lo <= n <= hi.
func (v *validator) between(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.errorf(path, "must be from %d to %d, got %d", lo, hi, n)
	}
}

// atLeast checks n >= lo.
func (v *validator) atLeast(path string, n, lo int) {
	if n < lo {
		v.errorf(path, "must be %d or more, got %d", lo, n)
	}
}

// port checks an optional port; 0 means unset.
func (v *validator) port(path string, p int) {
	if p != 0 || v.given(path) {
		v.between(path, p, 1, 65535)
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// env checks environment variable names.
func (v *validator) env(path string, env map[string]string, reserved bool) {
	v.envNames(path, sortedKeys(env), reserved)
}

// envNames checks the names of environment variables (sorted).
func (v *validator) envNames(path string, names []string, reserved bool) {
	for _, k := range names {
		kp := child(path, k)
		switch {
		case !envName.MatchString(k):
			v.errorf(kp, "is not a valid environment variable name (letters, digits and _, not starting with a digit)")
		case reserved && (k == vars.Port || strings.HasPrefix(k, "OPSHUB_")):
			v.errorf(kp, "is set by opshub for each instance and cannot be overridden")
		}
	}
}

var hostname = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$`)
