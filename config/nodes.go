package config

import (
	"gopkg.in/yaml.v3"
)

// Walking the YAML node tree: aliases, merge keys, duplicate keys and a
// budget, shared by the typed decoder and the checker of destination keys.

// maxNodes bounds the work of one Parse, so that a small file whose aliases
// expand to billions of nodes is rejected instead of exhausting memory.
const maxNodes = 100_000

// spend takes one node from the budget and reports once when it runs out.
func (l *loader) spend(n *yaml.Node, path string) bool {
	l.budget--
	if l.budget == 0 {
		l.rep.fail(n.Line, path, "the document is too large or its aliases expand too far (more than %d nodes)", maxNodes)
	}
	return l.budget > 0
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// follow resolves alias nodes, reporting an anchor that contains itself.
// The caller must call the returned release when done with the target.
func (l *loader) follow(n *yaml.Node, path string) (target *yaml.Node, release func(), ok bool) {
	var held []*yaml.Node
	release = func() {
		for _, a := range held {
			delete(l.active, a)
		}
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil || l.active[n] {
			release()
			l.rep.fail(n.Line, path, "alias *%s refers to a value that contains it", n.Value)
			return nil, func() {}, false
		}
		l.active[n] = true
		held = append(held, n)
		n = n.Alias
	}
	return n, release, true
}

// pair is one key and value of a mapping.
type pair struct {
	key, value *yaml.Node
}

// pairs returns the entries of a mapping with merge keys ("<<: *base")
// expanded: keys written in the mapping win over merged ones, and among
// merged mappings the first wins, as YAML specifies. Duplicate keys and keys
// that are not scalars are reported and skipped.
func (l *loader) pairs(n *yaml.Node, path string) []pair {
	var out, merged []pair
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.AliasNode {
			target, release, ok := l.follow(k, path)
			release()
			if !ok {
				continue
			}
			k = target
		}
		if k.Kind != yaml.ScalarNode {
			l.rep.fail(k.Line, path, "keys must be plain strings, not %s", describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merged = append(merged, l.mergeSources(v, path)...)
			continue
		}
		if line, dup := first[k.Value]; dup {
			l.rep.fail(k.Line, child(path, k.Value), "duplicate key (first at line %d)", line)
			continue
		}
		first[k.Value] = k.Line
		out = append(out, pair{k, v})
	}
	for _, p := range merged {
		if _, dup := first[p.key.Value]; !dup {
			first[p.key.Value] = p.key.Line
			out = append(out, p)
		}
	}
	return out
}

// mergeSources returns the entries a merge key brings in.
func (l *loader) mergeSources(v *yaml.Node, path string) []pair {
	if !l.spend(v, path) {
		return nil
	}
	target, release, ok := l.follow(v, path)
	defer release()
	if !ok {
		return nil
	}
	switch target.Kind {
	case yaml.MappingNode:
		return l.pairs(target, path)
	case yaml.SequenceNode:
		var out []pair
		seen := map[string]bool{}
		for _, e := range target.Content {
			for _, p := range l.mergeSources(e, path) {
				if !seen[p.key.Value] {
					seen[p.key.Value] = true
					out = append(out, p)
				}
			}
		}
		return out
	}
	l.rep.fail(v.Line, path, "a merge key (<<) needs a mapping or a list of mappings, not %s", describe(target))
	return nil
}

// copyNode returns a deep copy of n with aliases and merge keys resolved, so
// that a destination's keys can be rewritten (expanded, made absolute)
// without touching any other place that shares an anchor.
func (l *loader) copyNode(n *yaml.Node, path string) *yaml.Node {
	if !l.spend(n, path) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	target, release, ok := l.follow(n, path)
	defer release()
	if !ok {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
	}
	// Styles are not kept: Redacted writes destination keys in block style
	// like everything else.
	c := &yaml.Node{
		Kind: target.Kind, Tag: target.Tag, Value: target.Value,
		Line: target.Line, Column: target.Column,
	}
	switch target.Kind {
	case yaml.MappingNode:
		for _, p := range l.pairs(target, path) {
			key := *p.key
			key.HeadComment, key.LineComment, key.FootComment = "", "", ""
			c.Content = append(c.Content, &key, l.copyNode(p.value, child(path, p.key.Value)))
		}
	case yaml.SequenceNode:
		for i, e := range target.Content {
			c.Content = append(c.Content, l.copyNode(e, elem(path, i)))
		}
	}
	return c
}

// describe names the kind of a node for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "an empty document"
}
