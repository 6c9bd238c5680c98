package spec

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxValueNodes bounds how many YAML nodes one file may expand into (aliases included), so a
// "billion laughs" file fails instead of exhausting memory.
const maxValueNodes = 200_000

// maxDepth bounds the nesting of values.
const maxDepth = 200

// parser collects problems while one file is read.
type parser struct {
	file   string
	lang   Language
	probs  []Problem
	budget int
}

func (p *parser) add(n *yaml.Node, task, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.probs = append(p.probs, Problem{File: p.file, Line: line, Task: task, Field: field, Message: fmt.Sprintf(format, args...)})
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 32; i++ {
		n = n.Alias
	}
	return n
}

// pair is one key: value of a mapping.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// pairs lists a mapping's entries in file order, reporting duplicate keys (which YAML forbids
// and Orquesta refuses) and merging nothing: "<<" merge keys are refused as unknown keys by
// the callers that check keys.
func (p *parser) pairs(n *yaml.Node, task, field string) []pair {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		key := ""
		if k != nil {
			key = k.Value
		}
		if seen[key] {
			p.add(k, task, join(field, key), "duplicate key %q", key)
			continue
		}
		seen[key] = true
		out = append(out, pair{key: key, kn: k, v: v})
	}
	return out
}

// join builds a dotted field path.
func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func index(field string, i int) string { return fmt.Sprintf("%s[%d]", field, i) }

// kindName describes a node for error messages.
func kindName(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		}
		return "a string"
	}
	return "an unknown node"
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// str reads a string scalar; ok is false (and a problem recorded) when n is something else.
// Numbers and booleans are refused: a task name or action ref written 1.0 is a mistake.
func (p *parser) str(n *yaml.Node, task, field string) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.add(n, task, field, "must be a string, not %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// nonEmptyStr is str that also refuses "".
func (p *parser) nonEmptyStr(n *yaml.Node, task, field string) (string, bool) {
	s, ok := p.str(n, task, field)
	if ok && strings.TrimSpace(s) == "" {
		p.add(n, task, field, "must not be empty")
		return "", false
	}
	return s, ok
}

// number reads a non-negative integer or an expression string.
func (p *parser) number(n *yaml.Node, task, field string) (*Number, bool) {
	n = deref(n)
	if n != nil && n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!int":
			v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
			if err != nil || v < 0 {
				p.add(n, task, field, "must be a non-negative integer or an expression, not %s", n.Value)
				return nil, false
			}
			return &Number{Value: v}, true
		case "!!str":
			s := strings.TrimSpace(n.Value)
			if ExprLangOf(s) != NoExpr {
				return &Number{Expr: n.Value}, true
			}
			if v, err := strconv.ParseInt(s, 10, 64); err == nil && v >= 0 {
				return &Number{Value: v}, true
			}
		}
	}
	p.add(n, task, field, "must be a non-negative integer or an expression, not %s", describe(n))
	return nil, false
}

// describe shows a scalar's text, or its kind.
func describe(n *yaml.Node) string {
	n = deref(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return strconv.Quote(n.Value)
	}
	return kindName(n)
}

// value converts a node into a plain value: nil, bool, int64, float64, string, []any,
// map[string]any. Timestamps and binary stay strings as written.
func (p *parser) value(n *yaml.Node, depth int) any {
	n = deref(n)
	if n == nil {
		return nil
	}
	p.budget--
	if p.budget < 0 || depth > maxDepth {
		if p.budget == -1 || depth == maxDepth+1 {
			p.add(n, "", "", "the document is too large or too deeply nested")
		}
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return p.value(n.Content[0], depth+1)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, p.value(c, depth+1))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			key := ""
			if k != nil {
				key = k.Value
				if k.Kind != yaml.ScalarNode {
					key = fmt.Sprint(p.value(k, depth+1))
				}
			}
			out[key] = p.value(n.Content[i+1], depth+1)
		}
		return out
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err == nil {
			return f
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	}
	return n.Value
}

// checkKeys reports the keys of a mapping that are not allowed.
func (p *parser) checkKeys(ps []pair, allowed map[string]bool, task, field string) {
	for _, kv := range ps {
		if !allowed[kv.key] {
			p.add(kv.kn, task, join(field, kv.key), "unknown key %q (allowed: %s)", kv.key, keyList(allowed))
		}
	}
}

func keyList(m map[string]bool) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
