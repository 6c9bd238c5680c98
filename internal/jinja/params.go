package jinja

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/pyfmt"
)

// ParamError is a parameter set that cannot be rendered: an unknown
// variable, a cycle, a template that fails, a value that does not cast.
// Its text is StackStorm's.
type ParamError struct{ Msg string }

func (e *ParamError) Error() string { return e.Msg }

func paramErrorf(format string, args ...any) *ParamError {
	return &ParamError{Msg: fmt.Sprintf(format, args...)}
}

// Rendered is a rendered parameter set.
type Rendered struct {
	// Params are the parameters, rendered and cast to their types.
	Params map[string]any
	// Tainted names the parameters whose value holds secret data: one
	// that decrypted a key, or read a secret parameter or another tainted
	// one. Callers redact them as they redact secret parameters.
	Tainted []string
	// Decrypted are the plaintexts decrypt_kv produced, for redaction.
	Decrypted []string
}

// Secret is a context value that is secret (a pack config field declared
// secret): a parameter whose rendered text holds it is tainted.
type Secret string

// node is one vertex of the dependency graph: a context root, a plain
// value or a template.
type node struct {
	value    any
	tpl      *Template
	complex  bool // a list or object rendered through its JSON text
	deps     []string
	isParam  bool
	rendered bool
}

// complexVar is StackStorm's rewrite of a whole-string "{{name}}" inside a
// list or object: it keeps the variable's type (to_complex).
var complexVar = regexp.MustCompile(`"{{([A-z0-9_-]+)}}"`)

// RenderParams renders values (an execution's parameters, defaults
// applied) in dependency order, as StackStorm's render_live_params and
// render_final_params do: a parameter whose value is a template sees the
// other parameters and the roots of ctx (st2kv, config_context, …); then
// every parameter is cast to its schema type. A template that does not
// parse is kept as text, as StackStorm keeps it. secrets are the secret
// values among ctx's: a rendered value that contains one is tainted.
func (e *Env) RenderParams(values map[string]any, schema param.Schema, ctx map[string]any, secrets ...Secret) (Rendered, error) {
	nodes := map[string]*node{}
	for k, v := range ctx {
		nodes[k] = &node{value: v, rendered: true}
	}
	for name, v := range values {
		n := &node{value: typed(v, schema[name]), isParam: true}
		nodes[name] = n
		src, complex := "", false
		switch t := v.(type) {
		case string:
			src = t
		case []any, map[string]any:
			if IsTemplate(pyRepr(normalize(t))) {
				src, complex = complexVar.ReplaceAllString(pyJSON(normalize(t), -1, ", ", ": "), "{{$1 | to_complex}}"), true
			}
		}
		if !IsTemplate(src) {
			n.rendered = true
			continue
		}
		tpl, err := e.Parse(src)
		var se *SyntaxError
		if errors.As(err, &se) {
			// Not Jinja after all: StackStorm passes it on as text.
			n.rendered = true
			continue
		}
		if err != nil {
			return Rendered{}, err
		}
		n.tpl, n.complex, n.deps = tpl, complex, tpl.Variables()
	}
	// Every variable a template reads must be a parameter or a context root.
	for _, name := range slices.Sorted(maps.Keys(nodes)) {
		for _, d := range nodes[name].deps {
			if _, ok := nodes[d]; !ok {
				return Rendered{}, paramErrorf("Dependency unsatisfied in variable %q", d)
			}
		}
	}
	order, err := topoOrder(nodes)
	if err != nil {
		return Rendered{}, err
	}
	out := Rendered{Params: map[string]any{}}
	tainted := map[string]bool{}
	for name, spec := range schema {
		if spec.Secret {
			tainted[name] = true
		}
	}
	scope := map[string]any{}
	for _, name := range order {
		n := nodes[name]
		if !n.rendered {
			text, decrypted, err := n.tpl.render(scope)
			if err != nil {
				return Rendered{}, paramErrorf("Failed to render parameter %q: %s", name, err)
			}
			out.Decrypted = append(out.Decrypted, decrypted...)
			if len(decrypted) > 0 {
				tainted[name] = true
			}
			for _, d := range n.deps {
				if tainted[d] {
					tainted[name] = true
				}
			}
			for _, sec := range secrets {
				if len(sec) >= 3 && strings.Contains(text, string(sec)) {
					tainted[name] = true
				}
			}
			n.value = text
			if n.complex {
				var v any
				dec := json.NewDecoder(strings.NewReader(text))
				dec.UseNumber()
				if err := dec.Decode(&v); err != nil {
					return Rendered{}, paramErrorf("Failed to render parameter %q: the rendered value is not JSON: %v", name, err)
				}
				n.value = normalize(v)
			}
		}
		scope[name] = n.value
	}
	for name, n := range nodes {
		if !n.isParam {
			continue
		}
		v, err := cast(n.value, schema[name])
		if err != nil {
			return Rendered{}, paramErrorf("Failed to cast parameter %q: %s", name, err)
		}
		out.Params[name] = v
		if tainted[name] && !schema[name].Secret {
			out.Tainted = append(out.Tainted, name)
		}
	}
	slices.Sort(out.Tainted)
	return out, nil
}

// typed makes a decoded parameter value print as Python would print the
// value StackStorm holds: whole numbers are ints unless the parameter is a
// number.
func typed(v any, spec param.Spec) any {
	if f, ok := v.(float64); ok && spec.Type == param.TypeNumber {
		return f
	}
	return normalize(wholeInts(v))
}

func wholeInts(v any) any {
	switch t := v.(type) {
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int(t)
		}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = wholeInts(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = wholeInts(e)
		}
		return out
	}
	return v
}

// ContextValue prepares a decoded JSON value (a pack config, a trigger
// payload) for a template context: whole numbers print as ints.
func ContextValue(v any) any { return wholeInts(v) }

// topoOrder sorts the graph so that every node comes after what it reads,
// or reports the variables on a cycle.
func topoOrder(nodes map[string]*node) ([]string, error) {
	indeg := map[string]int{}
	users := map[string][]string{}
	for name, n := range nodes {
		indeg[name] += 0
		for _, d := range slices.Compact(slices.Sorted(slices.Values(n.deps))) {
			indeg[name]++
			users[d] = append(users[d], name)
		}
	}
	var ready, order []string
	for name, d := range indeg {
		if d == 0 {
			ready = append(ready, name)
		}
	}
	slices.Sort(ready)
	for len(ready) > 0 {
		name := ready[0]
		ready = ready[1:]
		order = append(order, name)
		for _, u := range users[name] {
			indeg[u]--
			if indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) == len(nodes) {
		return order, nil
	}
	var cyclic []string
	for name, d := range indeg {
		if d > 0 && onCycle(nodes, name) {
			cyclic = append(cyclic, name)
		}
	}
	slices.Sort(cyclic)
	return nil, paramErrorf("Cyclic dependency found in the following variables: %s. Likely the variable is referencing itself",
		strings.Join(cyclic, ", "))
}

// onCycle reports whether start reaches itself through its dependencies.
func onCycle(nodes map[string]*node, start string) bool {
	seen := map[string]bool{}
	stack := slices.Clone(nodes[start].deps)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if d == start {
			return true
		}
		if seen[d] || nodes[d] == nil {
			continue
		}
		seen[d] = true
		stack = append(stack, nodes[d].deps...)
	}
	return false
}

// cast converts a rendered value to its schema type as StackStorm's
// casts.py does: "3" becomes 3 for an integer, "true" True for a boolean,
// JSON (or a Python literal) text a list or object; use_none's marker
// becomes null.
func cast(v any, spec param.Spec) (any, error) {
	if v == nil {
		return nil, nil
	}
	s, isString := v.(string)
	if isString && s == NoneMagic {
		return nil, nil
	}
	switch spec.Type {
	case param.TypeString:
		if !isString {
			return nil, fmt.Errorf("Value %q must either be a string or None. Got %q.", str(v), pyType(v))
		}
	case param.TypeInteger:
		switch t := v.(type) {
		case string:
			i, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(t), "_", ""))
			if err != nil {
				return nil, fmt.Errorf("invalid literal for int() with base 10: %s", pyfmt.Quote(t))
			}
			return i, nil
		case float64:
			return int(t), nil
		case bool:
			if t {
				return 1, nil
			}
			return 0, nil
		}
	case param.TypeNumber:
		switch t := v.(type) {
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
			if err != nil {
				return nil, fmt.Errorf("could not convert string to float: %s", pyfmt.Quote(t))
			}
			return f, nil
		case int:
			return float64(t), nil
		}
	case param.TypeBoolean:
		if isString {
			lit, err := pyLiteral(strings.ToUpper(s[:min(1, len(s))]) + strings.ToLower(s[min(1, len(s)):]))
			if err != nil {
				return nil, fmt.Errorf("malformed node or string: %s", pyfmt.Quote(s))
			}
			return lit, nil
		}
	case param.TypeObject, param.TypeArray:
		if isString {
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			var out any
			if err := dec.Decode(&out); err == nil && !dec.More() {
				return normalize(out), nil
			}
			lit, err := pyLiteral(s)
			if err != nil {
				return nil, fmt.Errorf("malformed node or string: %s", pyfmt.Quote(s))
			}
			return lit, nil
		}
	}
	return v, nil
}

func pyType(v any) string {
	switch v.(type) {
	case int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "str"
}

// CastGiven casts the given values of a StackStorm action to their schema
// types as StackStorm casts live parameters ("3" is 3 for an integer),
// leaving templates (rendered later) and unknown names alone. Values that
// do not cast are left for validation to report.
func CastGiven(values map[string]any, schema param.Schema) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		out[k] = v
		spec, ok := schema[k]
		if s, isString := v.(string); !ok || !isString || IsTemplate(s) {
			continue
		}
		if c, err := cast(v, spec); err == nil {
			out[k] = c
		}
	}
	return out
}
