// Package vars is the one definition of how `${NAME}` references in a
// workload's command, environment and working directory are expanded at run
// time, and of the per-instance variable names. The config loader leaves these
// references for the runtime; both sides import this package so that they can
// never disagree. It holds no state and imports only the standard library.
package vars

import "strings"

// Per-instance variables every runtime sets.
const (
	Port     = "PORT"
	Project  = "OPSHUB_PROJECT"
	Service  = "OPSHUB_SERVICE"
	Instance = "OPSHUB_INSTANCE"
	Replica  = "OPSHUB_REPLICA"
	// VolumePrefix + the volume name gives the variable holding the volume's
	// path; see Volume.
	VolumePrefix = "OPSHUB_VOLUME_"
)

// Volume is the variable holding the path of the named volume: "cache-dir"
// gives "OPSHUB_VOLUME_CACHE_DIR". Letters are upper-cased and anything that
// is not a letter or digit becomes "_".
func Volume(name string) string {
	var b strings.Builder
	b.WriteString(VolumePrefix)
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Expand expands a value at run time: ${NAME} becomes its value when lookup
// knows NAME and stays as written otherwise (so a mistake shows in the
// process's arguments instead of vanishing, as Kubernetes leaves an unknown
// $(NAME)), and "$${" becomes a literal "${".
func Expand(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			if v, ok := lookup(s[i+2 : i+end]); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+end+1])
			}
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}
