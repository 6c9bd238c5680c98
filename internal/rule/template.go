package rule

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Context is the data action-parameter templates render against, keyed by namespace:
// "trigger" (the event payload), "event" ({id, payload, trigger}), "rule", "pack",
// "keystore", "st2kv". Nested objects must be map[string]any (or Context) and lists []any,
// the shapes encoding/json produces.
type Context map[string]any

// TemplateError reports a template that failed to render, naming both the parameter (dotted,
// list indexes as segments: "headers.X-Token", "targets.0") and the context path it
// referenced, so the author knows which value to supply. It never contains rendered values,
// which may be secret.
type TemplateError struct {
	Param   string
	Path    string
	Message string
}

// Error renders "parameter P: {{ path }}: message".
func (e *TemplateError) Error() string {
	return fmt.Sprintf("parameter %s: {{ %s }}: %s", e.Param, e.Path, e.Message)
}

// TemplateSyntaxError lists every parameter whose template does not parse (Problem.Key is the
// parameter path), so a rule is refused at creation with all its mistakes at once.
type TemplateSyntaxError struct {
	Problems []Problem
}

// Error joins all problems into one line.
func (e *TemplateSyntaxError) Error() string { return formatProblems("invalid template", e.Problems) }

// Templates is a compiled set of action parameters: every string has been parsed once, so
// rendering per event does no parsing. Safe for concurrent use. Rendered results may share
// template-free subtrees with the compiled params, default literals with the Templates, and
// values with the Context: treat them as read-only.
type Templates struct {
	root node
	refs map[string][]string // top-level parameter → sorted, distinct referenced paths
}

// CompileTemplates parses every string in params (recursively through objects and lists).
// Syntax errors are reported together in one *TemplateSyntaxError.
func CompileTemplates(params map[string]any) (*Templates, error) {
	c := compiler{}
	t := &Templates{refs: map[string][]string{}}
	obj := &objectNode{keys: slices.Sorted(maps.Keys(params))}
	for _, k := range obj.keys {
		c.refs = nil
		obj.vals = append(obj.vals, c.compile(params[k], k))
		if len(c.refs) > 0 {
			slices.Sort(c.refs)
			t.refs[k] = slices.Compact(c.refs)
		}
	}
	if len(c.problems) > 0 {
		return nil, &TemplateSyntaxError{Problems: c.problems}
	}
	t.root = obj.simplify(params)
	return t, nil
}

// Render evaluates the templates against ctx. A string that is exactly one {{ expression }}
// (surrounding whitespace allowed) yields the expression's value with its JSON type; any
// other string with expressions renders to a string. A path missing from ctx is an error
// (*TemplateError) unless a default filter supplies a value.
func (t *Templates) Render(ctx Context) (map[string]any, error) {
	v, err := t.root.render(ctx)
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// References returns every context path the templates read (e.g. "keystore.db_password"),
// sorted and distinct, so callers can check where secrets flow before rendering.
func (t *Templates) References() []string {
	var all []string
	for _, refs := range t.refs {
		all = append(all, refs...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// ParamReferences returns, per top-level parameter with templates, the context paths its
// templates read (sorted, distinct), so callers can require that secret values land only in
// parameters declared secret. The result is a copy the caller may modify.
func (t *Templates) ParamReferences() map[string][]string {
	out := make(map[string][]string, len(t.refs))
	for param, refs := range t.refs {
		out[param] = slices.Clone(refs)
	}
	return out
}

// Render compiles params and renders them against ctx in one step, for one-off uses such as
// a rule tester; engines should compile once with CompileTemplates.
func Render(params map[string]any, ctx Context) (map[string]any, error) {
	t, err := CompileTemplates(params)
	if err != nil {
		return nil, err
	}
	return t.Render(ctx)
}

// node is one compiled parameter value.
type node interface {
	render(ctx Context) (any, error)
}

// constNode is a value without templates, returned as is.
type constNode struct{ value any }

func (n constNode) render(Context) (any, error) { return n.value, nil }

// objectNode renders each value of an object that contains templates.
type objectNode struct {
	keys []string
	vals []node
}

func (n *objectNode) render(ctx Context) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		v, err := n.vals[i].render(ctx)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// simplify replaces n by a constNode of orig when no value contains a template.
func (n *objectNode) simplify(orig map[string]any) node {
	if allConst(n.vals) {
		return constNode{orig}
	}
	return n
}

// listNode renders each element of a list that contains templates.
type listNode []node

func (n listNode) render(ctx Context) (any, error) {
	out := make([]any, len(n))
	for i, e := range n {
		v, err := e.render(ctx)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// allConst reports whether none of nodes contains a template.
func allConst(nodes []node) bool {
	for _, n := range nodes {
		if _, ok := n.(constNode); !ok {
			return false
		}
	}
	return true
}

// compiler accumulates syntax problems and referenced paths while compiling a parameter tree.
type compiler struct {
	problems []Problem
	refs     []string
}

// compile turns one parameter value, found at param, into a node.
func (c *compiler) compile(v any, param string) node {
	switch x := v.(type) {
	case string:
		t, err := parseText(x, param)
		if err != nil {
			c.problems = append(c.problems, Problem{Key: param, Message: err.Error()})
		}
		if t == nil {
			return constNode{x}
		}
		for _, p := range t.parts {
			if p.expr != nil {
				c.refs = append(c.refs, p.expr.source)
			}
		}
		return t
	case map[string]any:
		obj := &objectNode{keys: slices.Sorted(maps.Keys(x))}
		for _, k := range obj.keys {
			obj.vals = append(obj.vals, c.compile(x[k], param+"."+k))
		}
		return obj.simplify(x)
	case []any:
		list := make(listNode, len(x))
		for i, e := range x {
			list[i] = c.compile(e, param+"."+strconv.Itoa(i))
		}
		if allConst(list) {
			return constNode{x}
		}
		return list
	}
	return constNode{v}
}

// textNode is a string containing at least one expression.
type textNode struct {
	param string // parameter path, for errors
	parts []part
	whole *expr // set when the string is exactly one expression: its value keeps its type
}

// part is literal text or one expression.
type part struct {
	text string
	expr *expr
}

func (t *textNode) render(ctx Context) (any, error) {
	if t.whole != nil {
		return t.whole.eval(ctx, t.param)
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.expr == nil {
			b.WriteString(p.text)
			continue
		}
		v, err := p.expr.eval(ctx, t.param)
		if err != nil {
			return nil, err
		}
		s, err := stringify(v)
		if err != nil {
			return nil, &TemplateError{Param: t.param, Path: p.expr.source, Message: err.Error()}
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// expr is one {{ path | filter ... }} expression.
type expr struct {
	path    []string // root namespace first
	source  string   // path joined with dots, for errors and References
	filters []filter
}

// filter is one "| name" or "| name(arg)" step.
type filter struct {
	name string
	arg  any
}

// eval looks the path up in ctx and applies the filters. A missing path flows through
// filters untouched until a default replaces it; if none does, it is an error.
func (e *expr) eval(ctx Context, param string) (any, error) {
	v, found := lookup(map[string]any(ctx), e.path)
	for _, f := range e.filters {
		if f.name == "default" {
			if !found || v == nil {
				v, found = f.arg, true
			}
			continue
		}
		if !found {
			continue
		}
		var err error
		if v, err = f.apply(v); err != nil {
			return nil, &TemplateError{Param: param, Path: e.source, Message: fmt.Sprintf("filter %s: %v", f.name, err)}
		}
	}
	if !found {
		return nil, &TemplateError{Param: param, Path: e.source, Message: "not found in context"}
	}
	return v, nil
}

// apply runs a non-default filter on a present value.
func (f filter) apply(v any) (any, error) {
	switch f.name {
	case "lower", "upper":
		s, err := stringify(v)
		if f.name == "lower" {
			return strings.ToLower(s), err
		}
		return strings.ToUpper(s), err
	case "json", "tojson":
		return encodeJSON(v)
	case "string":
		return stringify(v)
	}
	return toInt(v)
}

// stringify renders a value inside text: strings as is, everything else as JSON (so null,
// true and objects read as JSON rather than Python's None/True).
func stringify(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return encodeJSON(v)
}

// encodeJSON encodes v without HTML escaping, since the result feeds actions, not browsers.
func encodeJSON(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encoding %s as JSON: %w", jsonType(v), err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// toInt converts a number or numeric string to int64, truncating towards zero like Jinja's
// int filter; anything else is an error rather than Jinja's silent 0.
func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case string:
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return i, nil
		}
	}
	f, ok := numeric(v)
	if !ok || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("cannot convert %s to an integer", jsonType(v))
	}
	return int64(f), nil
}

// parseText parses a parameter string into a textNode, or returns nil if it contains no
// expressions. Jinja statements ({% %}) and comments ({# #}) are refused rather than passed
// through, so a ported StackStorm rule that uses them fails at creation, not at run time.
func parseText(s, param string) (*textNode, error) {
	t := &textNode{param: param}
	p := parser{src: s}
	start := 0
	for {
		i := strings.IndexByte(s[p.pos:], '{')
		if i < 0 || p.pos+i+1 >= len(s) {
			break
		}
		i += p.pos
		switch s[i+1] {
		case '%', '#':
			return nil, fmt.Errorf("col %d: Jinja statements and comments are not supported", i+1)
		case '{':
			if i > start {
				t.parts = append(t.parts, part{text: s[start:i]})
			}
			p.pos = i + 2
			e, err := p.expression()
			if err != nil {
				return nil, err
			}
			t.parts = append(t.parts, part{expr: e})
			start = p.pos
		default:
			p.pos = i + 1
		}
	}
	if len(t.parts) == 0 {
		return nil, nil
	}
	if start < len(s) {
		t.parts = append(t.parts, part{text: s[start:]})
	}
	var exprs []*expr
	for _, p := range t.parts {
		if p.expr != nil {
			exprs = append(exprs, p.expr)
		} else if strings.TrimSpace(p.text) != "" {
			return t, nil
		}
	}
	if len(exprs) == 1 {
		t.whole = exprs[0]
	}
	return t, nil
}

// parser reads one expression from src starting at pos.
type parser struct {
	src string
	pos int
}

// fail reports a syntax error at the current position (1-based column).
func (p *parser) fail(format string, args ...any) error {
	return fmt.Errorf("col %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

// space skips blanks.
func (p *parser) space() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

// eat consumes c if it is next.
func (p *parser) eat(c byte) bool {
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// word consumes [A-Za-z0-9_]*; identifier additionally requires a non-digit first.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			break
		}
		p.pos++
	}
	return p.src[start:p.pos]
}

// identifier consumes a name such as a namespace or filter.
func (p *parser) identifier() (string, bool) {
	if p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		return "", false
	}
	w := p.word()
	return w, w != ""
}

// expression parses `path (| filter)* }}` after the opening braces.
func (p *parser) expression() (*expr, error) {
	p.space()
	root, ok := p.identifier()
	if !ok {
		return nil, p.fail("expected a variable name")
	}
	e := &expr{path: []string{root}}
	for {
		if p.eat('.') {
			seg := p.word()
			if seg == "" {
				return nil, p.fail("expected a key or index after '.'")
			}
			e.path = append(e.path, seg)
			continue
		}
		if !p.eat('[') {
			break
		}
		p.space()
		seg, err := p.subscript()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(']') {
			return nil, p.fail("expected ']'")
		}
		e.path = append(e.path, seg)
	}
	e.source = strings.Join(e.path, ".")
	for p.space(); p.eat('|'); p.space() {
		p.space() // blanks between '|' and the filter name
		f, err := p.filter()
		if err != nil {
			return nil, err
		}
		e.filters = append(e.filters, f)
	}
	if !strings.HasPrefix(p.src[p.pos:], "}}") {
		if p.pos >= len(p.src) {
			return nil, p.fail("unterminated expression, expected '}}'")
		}
		return nil, p.fail("unexpected %q, expected '.', '[', '|' or '}}' (only paths and filters are supported)", p.src[p.pos])
	}
	p.pos += 2
	return e, nil
}

// subscript parses the inside of [..]: a non-negative integer or a quoted key.
func (p *parser) subscript() (string, error) {
	if w := p.word(); w != "" {
		if _, err := strconv.Atoi(w); err != nil {
			return "", p.fail("subscript must be an integer or a quoted key")
		}
		return w, nil
	}
	v, err := p.literal()
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", p.fail("subscript must be an integer or a quoted key")
	}
	return s, nil
}

// filter parses `name` or `name(arg)`, checking the name and arity.
func (p *parser) filter() (filter, error) {
	name, ok := p.identifier()
	if !ok {
		return filter{}, p.fail("expected a filter name")
	}
	f := filter{name: name}
	switch name {
	case "default":
		f.arg = "" // Jinja's default without an argument yields ''
	case "lower", "upper", "json", "tojson", "string", "int":
	default:
		return filter{}, p.fail("unknown filter %q (supported: default, lower, upper, json, string, int)", name)
	}
	p.space()
	if !p.eat('(') {
		return f, nil
	}
	p.space()
	if p.eat(')') {
		return f, nil
	}
	if name != "default" {
		return filter{}, p.fail("filter %s takes no argument", name)
	}
	arg, err := p.literal()
	if err != nil {
		return filter{}, err
	}
	f.arg = arg
	p.space()
	if !p.eat(')') {
		return filter{}, p.fail("expected ')' (default takes one argument)")
	}
	return f, nil
}

// literal parses a JSON value, a single-quoted string (Jinja's usual form) or one of
// Jinja's True/False/None spellings.
func (p *parser) literal() (any, error) {
	start := p.pos
	if w, ok := p.identifier(); ok {
		switch w {
		case "True", "true":
			return true, nil
		case "False", "false":
			return false, nil
		case "None", "none", "null":
			return nil, nil
		}
		p.pos = start
		return nil, p.fail("expected a literal (string, number, true, false, null, list or object)")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '\'' {
		return p.singleQuoted()
	}
	dec := json.NewDecoder(strings.NewReader(p.src[p.pos:]))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, p.fail("invalid literal: %v", err)
	}
	p.pos += int(dec.InputOffset())
	return v, nil
}

// singleQuoted parses 'text' with JSON escapes plus \'.
func (p *parser) singleQuoted() (string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for i := p.pos + 1; i < len(p.src); i++ {
		switch c := p.src[i]; c {
		case '\'':
			b.WriteByte('"')
			var s string
			if err := json.Unmarshal([]byte(b.String()), &s); err != nil {
				return "", p.fail("invalid string literal: %v", err)
			}
			p.pos = i + 1
			return s, nil
		case '"':
			b.WriteString(`\"`)
		case '\\':
			if i+1 < len(p.src) && p.src[i+1] == '\'' {
				b.WriteByte('\'')
			} else if i+1 < len(p.src) {
				b.WriteString(p.src[i : i+2])
			}
			i++
		default:
			b.WriteByte(c)
		}
	}
	return "", p.fail("unterminated string literal")
}
