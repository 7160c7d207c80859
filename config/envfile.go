package config

import (
	"fmt"
	"strings"
)

// envLine is one variable of an env file, with its 1-based line.
type envLine struct {
	key, value string
	line       int
}

// parseEnvFile reads the KEY=VALUE lines of a group's fromEnvFile, as
// Docker's --env-file and Compose's .env files are written: blank lines
// and lines starting with # are skipped, an "export " prefix is allowed,
// the value is everything after the first "=" (surrounding spaces kept),
// and a value wrapped in one pair of matching single or double quotes
// loses them; nothing else is interpreted. Problems name the line and
// never quote a value.
func parseEnvFile(data string) ([]envLine, []string) {
	var out []envLine
	var problems []string
	seen := map[string]int{}
	for i, raw := range strings.Split(data, "\n") {
		n := i + 1
		line := strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		line = strings.TrimLeft(line, " \t")
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("line %d: must be KEY=VALUE", n))
			continue
		case !envName.MatchString(key):
			problems = append(problems, fmt.Sprintf("line %d: %q is not a valid environment variable name", n, truncate(key, 40)))
			continue
		}
		if first, dup := seen[key]; dup {
			problems = append(problems, fmt.Sprintf("line %d: %s is already set on line %d", n, key, first))
			continue
		}
		seen[key] = n
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out = append(out, envLine{key: key, value: value, line: n})
	}
	return out, problems
}

// groupFiles reads each group's fromEnvFile and the "<NAME>File" keys of
// its data.
func (l *loader) groupFiles(c *Config) {
	for i := range c.Groups {
		g := &c.Groups[i]
		p := elem("groups", i)
		l.groupDataFiles(p, g)
		if g.FromEnvFile == "" {
			continue
		}
		fp := child(p, "fromEnvFile")
		written := g.FromEnvFile
		g.FromEnvFile = l.abs(written)
		b, err := l.readFile(g.FromEnvFile)
		if err != nil {
			l.rep.errorf(fp, "file %q %s", written, fileProblem(err))
			continue
		}
		if len(b) > maxSecretFile {
			l.rep.errorf(fp, "file %q is larger than %s", written, ByteSize(maxSecretFile))
			continue
		}
		lines, problems := parseEnvFile(string(b))
		for _, pr := range problems {
			l.rep.errorf(fp, "file %q %s", written, pr)
		}
		g.FileData = map[string]Secret{}
		for _, e := range lines {
			text, problems := l.vars.expand(e.value, keepInstanceVars|secretValue)
			for _, pr := range problems {
				l.rep.errorf(fp, "file %q line %d: %s", written, e.line, pr)
			}
			g.FileData[e.key] = Secret(text)
		}
	}
}

// groupDataFiles replaces each "<NAME>File: path" of a group's data with
// NAME and the content of the file. The content is taken as it is: a "${"
// in it is escaped, so that run-time expansion leaves it alone.
func (l *loader) groupDataFiles(p string, g *Group) {
	for _, k := range sortedKeys(g.Data) {
		name, isFile := strings.CutSuffix(k, "File")
		if !isFile || !envName.MatchString(name) {
			continue
		}
		kp := child(child(p, "data"), k)
		path := g.Data[k].Value()
		delete(g.Data, k)
		if _, both := g.Data[name]; both {
			l.rep.errorf(kp, "give %s or %s, not both", name, k)
			continue
		}
		s, err := readSecretFile(l.readFile, l.abs(path))
		if err != nil {
			l.rep.errorf(kp, "file %q %s", path, err)
			continue
		}
		g.Data[name] = Secret(strings.ReplaceAll(s.Value(), "${", "$${"))
		// The variable's own path, for messages about it (ties).
		l.lines[child(child(p, "data"), name)] = l.lines.line(kp)
	}
}
