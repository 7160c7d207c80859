package flow

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// argRef matches ${ARG_<NAME>}.
var argRef = regexp.MustCompile(`\$\{ARG_([A-Za-z0-9_]+)\}`)

// argName is what an argument's name may look like (after ARG_).
var argName = regexp.MustCompile(`^[A-Z0-9_]+$`)

// ArgError is an argument with a name no step could use.
type ArgError struct{ Name string }

func (e ArgError) Error() string {
	return fmt.Sprintf("argument %q: names are letters, digits, - and _", e.Name)
}

// NormalizeArgs turns the names of arguments as users give them ("version",
// "ARG_VERSION") into the names steps use ("VERSION").
func NormalizeArgs(args map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(args))
	for k, v := range args {
		name := strings.TrimPrefix(strings.ToUpper(strings.ReplaceAll(k, "-", "_")), "ARG_")
		if !argName.MatchString(name) {
			return nil, ArgError{Name: k}
		}
		out[name] = v
	}
	return out, nil
}

// required lists the arguments steps refer to, sorted.
func required(steps []Step) []string {
	b, _ := json.Marshal(steps)
	seen := map[string]bool{}
	for _, m := range argRef.FindAllStringSubmatch(string(b), -1) {
		seen[m[1]] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// missing lists the arguments steps refer to that args lacks, as
// ARG_<NAME>.
func missing(steps []Step, args map[string]string) []string {
	var out []string
	for _, name := range required(steps) {
		if _, ok := args[name]; !ok {
			out = append(out, "ARG_"+name)
		}
	}
	return out
}

// substitute returns steps with ${ARG_<NAME>} replaced in every string
// field, map key and value.
func substitute(steps []Step, args map[string]string) ([]Step, error) {
	b, err := json.Marshal(steps)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, err
	}
	tree = replaceArgs(tree, args)
	b, err = json.Marshal(tree)
	if err != nil {
		return nil, err
	}
	var out []Step
	return out, json.Unmarshal(b, &out)
}

func replaceArgs(v any, args map[string]string) any {
	switch t := v.(type) {
	case string:
		return argRef.ReplaceAllStringFunc(t, func(m string) string {
			if val, ok := args[argRef.FindStringSubmatch(m)[1]]; ok {
				return val
			}
			return m
		})
	case []any:
		for i := range t {
			t[i] = replaceArgs(t[i], args)
		}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[replaceArgs(k, args).(string)] = replaceArgs(x, args)
		}
		return out
	}
	return v
}
