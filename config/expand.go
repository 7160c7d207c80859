package config

import (
	"github.com/opshub/opshub/internal/vars"
	"regexp"
	"strings"
)

// Variable expansion.
//
// Config expands ${VAR} from the environment in scalar values after the YAML
// is parsed, never in the raw text, so that a value cannot inject YAML and
// line numbers stay true. "$${" is a literal "${". An unset variable is an
// error. A few fields are run again through expansion later, at run time,
// with variables that only exist then; config leaves those variables, and
// any "$${", untouched there:
//
//   - workloads[*].command, workloads[*].env values, workloads[*].workingDir,
//     and the command and env of deploy steps: the per-instance variables
//     PORT, OPSHUB_PROJECT, OPSHUB_SERVICE, OPSHUB_INSTANCE, OPSHUB_REPLICA
//     and OPSHUB_VOLUME_<NAME>;
//   - anything under release.flows: the flow arguments ARG_<NAME>.
//
// The code that runs those fields expands them with vars.Expand.

// VarArgPrefix + the argument name is a flow argument (`opshub flow run NAME --arg K=V`).
const VarArgPrefix = "ARG_"

// expandMode says which variables a field keeps for run time.
type expandMode uint8

const (
	keepInstanceVars expandMode = 1 << iota
	keepArgVars
	// secretValue marks a credential: problems never quote any of its text.
	secretValue
	// absPath marks a file path, made absolute against the working directory.
	absPath

	keepsVars = keepInstanceVars | keepArgVars
)

func (m expandMode) keeps(name string) bool {
	if m&keepInstanceVars != 0 {
		switch name {
		case vars.Port, vars.Project, vars.Service, vars.Instance, vars.Replica:
			return true
		}
		if strings.HasPrefix(name, vars.VolumePrefix) && len(name) > len(vars.VolumePrefix) {
			return true
		}
	}
	return m&keepArgVars != 0 && strings.HasPrefix(name, VarArgPrefix) && len(name) > len(VarArgPrefix)
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expander expands ${VAR} from an environment.
type expander struct {
	lookup func(string) (string, bool)
}

// expand returns s with variables replaced, and a problem per variable that
// could not be expanded. Problems name the variable, never its value.
func (x expander) expand(s string, mode expandMode) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var problems []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			if mode&keepsVars != 0 {
				b.WriteString("$${") // left for vars.Expand
			} else {
				b.WriteString("${")
			}
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				problems = append(problems, "unterminated ${ (write $${ for a literal ${)")
				b.WriteString(s[i:])
				return b.String(), problems
			}
			name := s[i+2 : i+end]
			i += end + 1
			switch {
			case !varName.MatchString(name) && mode&secretValue != 0:
				problems = append(problems, "invalid variable name in ${…} (write $${ for a literal ${)")
			case !varName.MatchString(name):
				problems = append(problems, "invalid variable name in ${"+truncate(name, 40)+"} (write $${ for a literal ${)")
			case mode.keeps(name):
				b.WriteString("${" + name + "}")
			default:
				v, ok := x.lookup(name)
				if !ok {
					problems = append(problems, "environment variable "+name+" is not set")
					continue
				}
				if mode&keepsVars != 0 {
					// The value is literal text: keep ExpandDeferred from
					// reading a "${" inside it as a variable.
					v = strings.ReplaceAll(v, "${", "$${")
				}
				b.WriteString(v)
			}
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), problems
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
