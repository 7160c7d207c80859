package config

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Destination keys. Each sink and integration type owns its settings (the
// package implementing it decodes Sink.Raw or Integration.Raw), but config
// must still catch a typo before anything starts. So config keeps a small
// table per type of the keys it accepts and their shapes, checks the raw
// node against it, and prepares the node: ${VAR} expanded, paths absolute,
// secret files read, the type's defaults filled in.

// rawKind is the shape of a destination key's value.
type rawKind uint8

const (
	rawString   rawKind = iota
	rawURL              // an http or https URL
	rawPath             // a file path, made absolute
	rawHostPort         // host:port
	rawInt              // an integer, at least rawKey.atLeast
	rawBool             // true or false
	rawDuration         // a Duration
	rawSize             // a ByteSize
	rawStrings          // a list of strings
	rawMap              // a mapping of strings to strings
	rawObject           // a mapping with its own known keys
)

// rawKey describes one destination key, or (kind rawObject) a mapping of
// keys, which is also how a whole type is described.
type rawKey struct {
	name string
	kind rawKind
	// secret marks a credential: "<name>File" is accepted instead, the value
	// never appears in messages, and Redacted prints "<secret>". On a rawMap
	// every value is secret (headers may carry credentials).
	secret   bool
	required bool
	enum     []string
	atLeast  int
	// with are keys of the same mapping required when this key is given.
	with []string
	// keys and oneOf describe a rawObject: its known keys, and groups of keys
	// of which exactly one must be given.
	keys  []rawKey
	oneOf [][]string
}

// lookup finds the key named name, or the secret key whose "<name>File" it is.
func (k *rawKey) lookup(name string) (key *rawKey, isFile bool) {
	for i := range k.keys {
		c := &k.keys[i]
		if c.name == name {
			return c, false
		}
		if c.secret && c.kind != rawMap && c.name+"File" == name {
			return c, true
		}
	}
	return nil, false
}

// knownNames lists the accepted keys for messages.
func (k *rawKey) knownNames() []string {
	var names []string
	for _, c := range k.keys {
		names = append(names, c.name)
		if c.secret && c.kind != rawMap {
			names = append(names, c.name+"File")
		}
	}
	return names
}

// checkRaw checks a destination's mapping against its type, with common the
// keys the parent struct already took (listed in unknown-key messages).
func (l *loader) checkRaw(n *yaml.Node, schema *rawKey, path string, common []string, defaults []rawDefault) {
	l.checkObject(n, schema, path, common)
	for _, d := range defaults {
		if k, _ := schema.lookup(d.key); k != nil && !hasKey(n, d.key) {
			n.Content = append(n.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: d.key},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: tagFor(k.kind), Value: d.value})
		}
	}
}

func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

func tagFor(kind rawKind) string {
	switch kind {
	case rawInt:
		return "!!int"
	case rawBool:
		return "!!bool"
	}
	return "!!str"
}

// checkObject checks and prepares the mapping n (already a flat copy).
func (l *loader) checkObject(n *yaml.Node, schema *rawKey, path string, common []string) {
	if n.Kind != yaml.MappingNode {
		l.rep.fail(n.Line, path, "must be a mapping, not %s", describe(n))
		return
	}
	given := map[string]int{} // key as written → line
	var kept []*yaml.Node
	type fromFile struct {
		key    *rawKey
		after  int // index in kept of the <name>File value
		secret Secret
	}
	var files []fromFile
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		name := kn.Value
		kp := child(path, name)
		l.lines[kp] = kn.Line
		key, isFile := schema.lookup(name)
		if key == nil {
			known := append(slices.Clone(common), schema.knownNames()...)
			l.failTypo(n, kn.Line, path, name, known)
			continue
		}
		if isNull(vn) {
			continue // a key without a value is the same as no key
		}
		given[name] = kn.Line
		kept = append(kept, kn, vn)
		if isFile {
			if s, ok := l.rawSecretFile(vn, kp); ok {
				files = append(files, fromFile{key, len(kept) - 1, s})
			}
			continue
		}
		l.rawValue(vn, kp, key)
	}

	// A secret read from a file lands under the secret's own key, right
	// after the file key, unless the file says both (which is reported).
	var out []*yaml.Node
	next := 0
	for _, f := range files {
		if _, both := given[f.key.name]; both {
			continue
		}
		out = append(out, kept[next:f.after+1]...)
		out = append(out,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.key.name, Line: kept[f.after].Line},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.secret.Value(), Line: kept[f.after].Line})
		next = f.after + 1
	}
	n.Content = append(out, kept[next:]...)

	has := func(name string) bool {
		if _, ok := given[name]; ok {
			return true
		}
		k, _ := schema.lookup(name)
		if k != nil && k.secret && k.kind != rawMap {
			_, ok := given[name+"File"]
			return ok
		}
		return false
	}
	for _, k := range schema.keys {
		_, inline := given[k.name]
		_, file := given[k.name+"File"]
		if k.secret && inline && file {
			l.rep.fail(given[k.name+"File"], child(path, k.name+"File"), "give %s or %sFile, not both", k.name, k.name)
		}
		if k.required && !has(k.name) {
			l.rep.errorf(child(path, k.name), "is required%s", alternatives(k))
		}
		if has(k.name) {
			for _, w := range k.with {
				if !has(w) {
					l.rep.errorf(child(path, w), "is required when %s is given", k.name)
				}
			}
		}
	}
	for _, group := range schema.oneOf {
		var got []string
		for _, name := range group {
			if has(name) {
				got = append(got, name)
			}
		}
		switch {
		case len(got) == 0:
			l.rep.errorf(path, "needs one of %s", strings.Join(group, ", "))
		case len(got) > 1:
			l.rep.errorf(path, "give only one of %s", strings.Join(got, ", "))
		}
	}
}

func alternatives(k rawKey) string {
	if k.secret && k.kind != rawMap {
		return " (or " + k.name + "File)"
	}
	return ""
}

// rawSecretFile reads the file a "<name>File" key points at.
func (l *loader) rawSecretFile(vn *yaml.Node, path string) (Secret, bool) {
	text, ok := l.scalar(vn, path, "a file path", 0)
	if !ok {
		return "", false
	}
	abs := l.abs(text)
	vn.Value, vn.Tag, vn.Style = abs, "!!str", 0
	s, err := readSecretFile(l.readFile, abs)
	if err != nil {
		l.rep.fail(vn.Line, path, "file %q %s", text, err)
		return "", false
	}
	return s, true
}

// rawValue checks and prepares one value against its key.
func (l *loader) rawValue(n *yaml.Node, path string, k *rawKey) {
	switch k.kind {
	case rawObject:
		l.checkObject(n, k, path, nil)
	case rawStrings:
		if n.Kind != yaml.SequenceNode {
			l.rep.fail(n.Line, path, "must be a list of strings, not %s", describe(n))
			return
		}
		for i, e := range n.Content {
			l.lines[elem(path, i)] = e.Line
			l.rawScalar(e, elem(path, i), k)
		}
	case rawMap:
		if n.Kind != yaml.MappingNode {
			l.rep.fail(n.Line, path, "must be a mapping of strings, not %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kp := child(path, n.Content[i].Value)
			l.lines[kp] = n.Content[i].Line
			l.rawScalar(n.Content[i+1], kp, k)
		}
	default:
		l.rawScalar(n, path, k)
	}
}

// rawScalar checks one scalar, expands it and rewrites it in place. A secret
// value is never quoted back in a message.
func (l *loader) rawScalar(n *yaml.Node, path string, k *rawKey) {
	var mode expandMode
	if k.secret {
		mode = secretValue
	}
	text, ok := l.scalar(n, path, "a single value", mode)
	if !ok {
		return
	}
	got := ""
	if !k.secret {
		got = ", got " + shown(n)
	}
	n.Value, n.Tag, n.Style = text, tagFor(k.kind), 0
	if k.secret && k.kind != rawMap && text == "" {
		l.rep.fail(n.Line, path, "is empty")
		return
	}
	switch k.kind {
	case rawURL:
		u, err := url.Parse(text)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.rep.fail(n.Line, path, "must be an http or https URL%s", got)
		}
	case rawPath:
		n.Value = l.abs(text)
	case rawHostPort:
		if host, port, err := net.SplitHostPort(text); err != nil || !validPort(port) || !validHost(host) {
			l.rep.fail(n.Line, path, "must be host:port%s", got)
		}
	case rawInt:
		i, err := strconv.Atoi(strings.TrimSpace(text))
		switch {
		case err != nil:
			l.rep.fail(n.Line, path, "must be an integer%s", got)
		case i < k.atLeast:
			l.rep.fail(n.Line, path, "must be %d or more%s", k.atLeast, got)
		default:
			n.Value = strconv.Itoa(i)
		}
	case rawBool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true", "false":
			n.Value = strings.ToLower(strings.TrimSpace(text))
		default:
			l.rep.fail(n.Line, path, "must be true or false%s", got)
		}
	case rawDuration:
		var d Duration
		if err := d.setText(text); err != nil {
			l.rep.fail(n.Line, path, "%s%s", err, got)
		}
	case rawSize:
		var b ByteSize
		if err := b.setText(text); err != nil {
			l.rep.fail(n.Line, path, "%s%s", err, got)
		}
	}
	if len(k.enum) > 0 && !slices.Contains(k.enum, text) {
		l.rep.fail(n.Line, path, "must be one of %s%s", strings.Join(k.enum, ", "), got)
	}
}

// withRaw renders a sink or integration for Redacted: the common fields,
// then the destination's keys with every secret replaced, inserted after
// name and type.
func withRaw(common any, raw *yaml.Node, schema *rawKey) (any, error) {
	var n yaml.Node
	if err := n.Encode(common); err != nil {
		return nil, err
	}
	if raw == nil || raw.Kind != yaml.MappingNode || len(raw.Content) == 0 || n.Kind != yaml.MappingNode {
		return &n, nil
	}
	extra := redactObject(raw, schema)
	at := min(4, len(n.Content)) // after name and type
	n.Content = append(n.Content[:at], append(extra, n.Content[at:]...)...)
	return &n, nil
}

func redactedNode() *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: redacted}
}

// redactObject copies a prepared mapping with every secret replaced by
// "<secret>". A secret read from a file is left out, its file key shown.
// Without a schema (a type config does not know) every value is replaced.
func redactObject(n *yaml.Node, schema *rawKey) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		var key *rawKey
		isFile := false
		if schema != nil {
			key, isFile = schema.lookup(kn.Value)
		}
		var v *yaml.Node
		switch {
		case key == nil:
			v = redactAll(vn)
		case isFile:
			v = vn
		case key.secret && key.kind != rawMap:
			if hasKey(n, key.name+"File") {
				continue
			}
			v = redactedNode()
		case key.secret:
			v = redactAll(vn)
		case key.kind == rawObject && vn.Kind == yaml.MappingNode:
			v = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: redactObject(vn, key)}
		default:
			v = vn
		}
		out = append(out, kn, v)
	}
	return out
}

// redactAll copies n with every scalar replaced by "<secret>".
func redactAll(n *yaml.Node) *yaml.Node {
	switch n.Kind {
	case yaml.MappingNode:
		c := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.Content = append(c.Content, n.Content[i], redactAll(n.Content[i+1]))
		}
		return c
	case yaml.SequenceNode:
		c := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, e := range n.Content {
			c.Content = append(c.Content, redactAll(e))
		}
		return c
	}
	return redactedNode()
}
