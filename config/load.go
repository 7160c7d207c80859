package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Load reads the config file at path and parses it; see Parse.
func Load(path string, plugins Plugins) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: "cannot read config file: it " + fileProblem(err).Error()}}
	}
	return Parse(data, path, plugins)
}

// Parse decodes, expands, resolves and validates a config. filename is used
// only in error messages. It returns the config with every default applied,
// or an Errors value listing every problem found, sorted by line.
//
// Relative paths are resolved against the current working directory of the
// process, not the directory of the file, and *File secrets are read from
// disk; nothing else outside the data is touched.
//
// plugins are the sink and integration types of the build: each one's own
// keys are decoded into its settings and validated here (see plugin.go).
func Parse(data []byte, filename string, plugins Plugins) (*Config, error) {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = ""
	}
	return parse(data, filename, environment{lookupEnv: os.LookupEnv, readFile: osReadLimited, cwd: cwd}, plugins)
}

// environment is what Parse reads besides the data; tests replace it.
type environment struct {
	lookupEnv func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	cwd       string
}

// loader holds the state of one Parse.
type loader struct {
	environment
	rep    *reporter
	lines  lineIndex
	vars   expander
	budget int
	active map[*yaml.Node]bool // aliases being followed

	plugins Plugins
	// commonKeys are the keys a sink or integration has besides its
	// type's own, by the path of its mapping, for unknown-key messages.
	commonKeys map[string][]string
}

func parse(data []byte, filename string, env environment, plugins Plugins) (*Config, error) {
	if plugins == nil {
		plugins = noPlugins{}
	}
	lines := lineIndex{}
	l := &loader{
		environment: env,
		rep:         newReporter(filename, lines),
		lines:       lines,
		vars:        expander{lookup: env.lookupEnv},
		budget:      maxNodes,
		active:      map[*yaml.Node]bool{},
		plugins:     plugins,
		commonKeys:  map[string][]string{},
	}
	root, ok := l.document(data)
	if !ok {
		return nil, l.rep.err()
	}
	cfg := Default()
	if root != nil {
		l.lines[""] = root.Line
		if root.Kind != yaml.MappingNode {
			l.rep.fail(root.Line, "", "the config must be a mapping of keys such as dataDir, server and workloads, not %s", describe(root))
			return nil, l.rep.err()
		}
		l.value(root, "", reflect.ValueOf(cfg).Elem(), 0)
	}
	l.decodePlugins(cfg)
	l.resolve(cfg)
	cfg.plugins = plugins
	validate(cfg, l.rep)
	if err := l.rep.err(); err != nil {
		return nil, err
	}
	cfg.source = &source{file: filename, lines: lines}
	return cfg, nil
}

// document parses the YAML into a node tree. It returns a nil root for an
// empty document, and false after reporting a syntax error.
func (l *loader) document(data []byte) (*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := decodeNode(dec, &doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		l.syntaxError(err, data)
		return nil, false
	}
	// Only empty documents may follow the first (a trailing "---" is harmless).
	for {
		var next yaml.Node
		err := decodeNode(dec, &next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.syntaxError(err, data)
			return nil, false
		}
		if len(next.Content) > 0 && !isNull(next.Content[0]) {
			l.rep.fail(next.Content[0].Line, "", "a config file holds one YAML document; remove the second one (after ---)")
			return nil, false
		}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, true
	}
	return doc.Content[0], true
}

// decodeNode parses one document, turning a panic inside the YAML parser
// into an error so that Parse never panics on bad input.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser failed on this input (%v)", r)
		}
	}()
	return dec.Decode(n)
}

var (
	yamlLine      = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^yaml: unknown anchor '(.*)' referenced$`)
)

// syntaxError reports a YAML syntax error as one error with its line.
func (l *loader) syntaxError(err error, data []byte) {
	msg := err.Error()
	line := 1
	switch m := yamlLine.FindStringSubmatch(msg); {
	case m != nil:
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 reports its parser's errors ("did not find expected …")
		// with a 0-based line, and its scanner's with a 1-based one.
		if strings.HasPrefix(msg, "did not find expected") {
			line++
		}
	case unknownAnchor.MatchString(msg):
		name := unknownAnchor.FindStringSubmatch(msg)[1]
		if i := bytes.Index(data, []byte("*"+name)); i >= 0 {
			line = 1 + bytes.Count(data[:i], []byte("\n"))
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
	default:
		msg = strings.TrimPrefix(msg, "yaml: ")
		line = badByteLine(data)
	}
	l.rep.fail(line, "", "not valid YAML: %s", msg)
}

// badByteLine finds the line of the first byte the YAML parser rejects
// without saying where (invalid UTF-8, control characters), or line 1.
func badByteLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		} else if r < 0x20 && r != '\t' && r != '\r' || r == 0x7f {
			return line
		}
		i += size
	}
	return 1
}
