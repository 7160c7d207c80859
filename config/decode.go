package config

import (
	"encoding"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// The typed decoder walks the node tree into the Config structs. Unlike
// yaml.v3's own decoder it keeps going after a problem, so every problem in
// the file is reported at once, each with its line and key path; it records
// the line of every key for validation; and it expands ${VAR} in scalars as it
// reads them, knowing which field each scalar is for.
//
// Struct fields are matched by their yaml tag; an embedded struct tagged
// `yaml:",inline"` adds its keys to the struct's. Extra tag options steer it:
// `config:"keepinstance"` and `config:"keepargs"` keep run-time variables in
// that field and below (see expand.go); `config:"rest"` on a *yaml.Node
// field collects the keys the struct does not know, for a plugin's settings
// (see plugin.go); `config:"secret"` marks a credential (never quoted in a
// message, printed as <secret>; on a string field "<key>File" is accepted
// instead and the file's content is read into the field); `config:"path"`
// makes a file path absolute.
//
// Besides the config's own types, a field may be a time.Duration (written as
// config's Duration) or any type implementing encoding.TextUnmarshaler.

// value decodes n into v. Null leaves v as it is (at its default), except
// that a pointer to a struct is allocated: `tcp:` means the same as `tcp: {}`.
func (l *loader) value(n *yaml.Node, path string, v reflect.Value, mode expandMode) {
	if !l.spend(n, path) {
		return
	}
	if n.Kind == yaml.AliasNode {
		target, release, ok := l.follow(n, path)
		defer release()
		if !ok {
			return
		}
		n = target
	}
	if isNull(n) {
		if v.Kind() == reflect.Pointer && v.IsNil() && v.Type().Elem().Kind() == reflect.Struct {
			v.Set(newValue(v.Type().Elem()))
		}
		return
	}
	if v.Type() == timeType {
		l.timeValue(n, path, v, mode)
		return
	}
	if v.Type() == durationType {
		var d Duration
		l.value(n, path, reflect.ValueOf(&d).Elem(), mode)
		v.SetInt(int64(d))
		return
	}
	if _, own := v.Addr().Interface().(textSetter); !own {
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			text, ok := l.scalar(n, path, "a single value", mode)
			if !ok {
				return
			}
			if err := u.UnmarshalText([]byte(text)); err != nil {
				l.rep.fail(n.Line, path, "%s, got %s", err, shown(n))
			}
			return
		}
	}
	if setter, ok := v.Addr().Interface().(textSetter); ok {
		text, ok := l.scalar(n, path, "a single value", mode)
		if !ok {
			return
		}
		if err := setter.setText(text); err != nil {
			l.rep.fail(n.Line, path, "%s, got %s", err, shown(n))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(newValue(v.Type().Elem()))
		}
		l.value(n, path, v.Elem(), mode)
	case reflect.Struct:
		l.structValue(n, path, v, mode)
	case reflect.Slice:
		l.sliceValue(n, path, v, mode)
	case reflect.Map:
		l.mapValue(n, path, v, mode)
	case reflect.String:
		if v.Type() == secretType {
			mode |= secretValue
		}
		if text, ok := l.scalar(n, path, "a string", mode); ok {
			if mode&absPath != 0 {
				text = l.abs(text)
			}
			v.SetString(text)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		text, ok := l.scalar(n, path, "an integer", mode)
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, v.Type().Bits())
		if err != nil {
			if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
				l.rep.fail(n.Line, path, "is out of range, got %s", shown(n))
				return
			}
			l.rep.fail(n.Line, path, "must be an integer, got %s", shown(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		text, ok := l.scalar(n, path, "a number", mode)
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			l.rep.fail(n.Line, path, "must be a number, got %s", shown(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		text, ok := l.scalar(n, path, "true or false", mode)
		if !ok {
			return
		}
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			l.rep.fail(n.Line, path, "must be true or false, got %s", shown(n))
		}
	default:
		// Only reachable if a schema struct gains a field of a kind this
		// decoder does not know; fail loudly rather than ignore the key.
		l.rep.fail(n.Line, path, "cannot be decoded (unsupported field type %s)", v.Type())
	}
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

func (l *loader) timeValue(n *yaml.Node, path string, v reflect.Value, mode expandMode) {
	text, ok := l.scalar(n, path, "a time", mode)
	if !ok {
		return
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(text))
	if err != nil {
		l.rep.fail(n.Line, path, "must be an RFC 3339 time such as 2026-12-01T00:00:00Z, got %s", shown(n))
		return
	}
	v.Set(reflect.ValueOf(t))
}

// scalar returns the expanded text of a scalar node.
func (l *loader) scalar(n *yaml.Node, path, want string, mode expandMode) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		l.rep.fail(n.Line, path, "must be %s, not %s", want, describe(n))
		return "", false
	}
	text, problems := l.vars.expand(n.Value, mode)
	for _, p := range problems {
		l.rep.fail(n.Line, path, "%s", p)
	}
	return text, len(problems) == 0
}

// shown quotes a value as written in the file, shortened. Values of Secret
// fields never reach a message: strings cannot fail to decode.
func shown(n *yaml.Node) string {
	return strconv.Quote(truncate(n.Value, 40))
}

func (l *loader) structValue(n *yaml.Node, path string, v reflect.Value, mode expandMode) {
	info := structInfoOf(v.Type())
	if n.Kind != yaml.MappingNode {
		l.rep.fail(n.Line, path, "must be a mapping with keys such as %s, not %s", strings.Join(firstN(info.known, 3), ", "), describe(n))
		return
	}
	var rest *yaml.Node
	if info.rest >= 0 {
		rest = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	}
	given := map[string]int{} // keys written, with their line
	for _, p := range l.pairs(n, path) {
		key := p.key.Value
		kp := child(path, key)
		l.lines[kp] = p.key.Line
		f, ok := info.byKey[key]
		if !ok && path == "" && strings.HasPrefix(key, "x-") {
			continue // an extension key at the top, a place to keep anchors
		}
		if !ok {
			if rest != nil {
				k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key, Line: p.key.Line, Column: p.key.Column}
				rest.Content = append(rest.Content, k, l.copyNode(p.value, kp))
				continue
			}
			known := info.known
			if extra, ok := l.commonKeys[path]; ok {
				known = append(slices.Clone(extra), known...)
			}
			l.failTypo(n, p.key.Line, path, key, known)
			continue
		}
		field := v.FieldByIndex(f.index)
		if !isNull(p.value) {
			given[key] = p.key.Line
		}
		if f.fromFile {
			if !isNull(p.value) && !l.secretFromFile(p.value, kp, field) {
				// The secret itself is missing because its file is; that
				// is one problem, reported at the file key.
				l.rep.failed[child(path, strings.TrimSuffix(key, "File"))] = true
			}
			continue
		}
		l.value(p.value, kp, field, mode|f.mode)
	}
	for _, name := range info.secretFiles {
		if _, inline := given[name]; inline {
			if line, file := given[name+"File"]; file {
				l.rep.fail(line, child(path, name+"File"), "give %s or %sFile, not both", name, name)
			}
		}
	}
	if rest != nil {
		v.Field(info.rest).Set(reflect.ValueOf(rest))
	}
}

// secretFromFile reads the file a "<key>File" key points at into field.
func (l *loader) secretFromFile(n *yaml.Node, path string, field reflect.Value) bool {
	text, ok := l.scalar(n, path, "a file path", 0)
	if !ok {
		return false
	}
	s, err := readSecretFile(l.readFile, l.abs(text))
	if err != nil {
		l.rep.fail(n.Line, path, "file %q %s", text, err)
		return false
	}
	field.SetString(s.Value())
	return true
}

func firstN(ss []string, n int) []string {
	if len(ss) > n {
		return ss[:n]
	}
	return ss
}

func (l *loader) sliceValue(n *yaml.Node, path string, v reflect.Value, mode expandMode) {
	if n.Kind != yaml.SequenceNode {
		l.rep.fail(n.Line, path, "must be a list, not %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, e := range n.Content {
		ep := elem(path, i)
		l.lines[ep] = e.Line
		ev := newValue(v.Type().Elem()).Elem()
		l.value(e, ep, ev, mode)
		s = reflect.Append(s, ev)
	}
	v.Set(s)
}

// mapValue merges the file's entries into the map: a default entry (such as
// alerts.throttle.default) stays unless the file names the same key.
func (l *loader) mapValue(n *yaml.Node, path string, v reflect.Value, mode expandMode) {
	if n.Kind != yaml.MappingNode {
		l.rep.fail(n.Line, path, "must be a mapping, not %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, p := range l.pairs(n, path) {
		kp := child(path, p.key.Value)
		l.lines[kp] = p.key.Line
		key := reflect.ValueOf(p.key.Value).Convert(v.Type().Key())
		ev := newValue(v.Type().Elem()).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			ev.Set(old)
		}
		l.value(p.value, kp, ev, mode)
		v.SetMapIndex(key, ev)
	}
}

// structInfo is what the decoder needs to know about a schema struct.
type structInfo struct {
	byKey map[string]fieldInfo
	known []string // keys in declaration order, for messages
	rest  int      // index of the `config:"rest"` field, or -1
	// secretFiles are the secret string keys that accept "<key>File".
	secretFiles []string
}

type fieldInfo struct {
	index []int // for reflect.Value.FieldByIndex, through inline structs
	mode  expandMode
	// fromFile marks "<key>File" of a secret string field: the value is a
	// file to read the field from.
	fromFile bool
}

var structInfos sync.Map // reflect.Type → *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byKey: map[string]fieldInfo{}, rest: -1}
	si.add(t, nil)
	structInfos.Store(t, si)
	return si
}

func (si *structInfo) add(t reflect.Type, at []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		index := append(slices.Clone(at), i)
		opts := f.Tag.Get("config")
		if opts == "rest" {
			si.rest = i
			continue
		}
		name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" && flags == "inline" && f.Type.Kind() == reflect.Struct {
			si.add(f.Type, index)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		var mode expandMode
		switch opts {
		case "keepinstance":
			mode = keepInstanceVars
		case "keepargs":
			mode = keepArgVars
		case "secret":
			mode = secretValue
		case "path":
			mode = absPath
		}
		si.byKey[name] = fieldInfo{index: index, mode: mode}
		si.known = append(si.known, name)
		if opts == "secret" && f.Type.Kind() == reflect.String {
			si.byKey[name+"File"] = fieldInfo{index: index, fromFile: true}
			si.known = append(si.known, name+"File")
			si.secretFiles = append(si.secretFiles, name)
		}
	}
}
