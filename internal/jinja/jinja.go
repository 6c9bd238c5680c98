// Package jinja renders Jinja templates as StackStorm does: the engine is
// gonja (a Go implementation of Jinja2), configured like StackStorm's
// sandboxed environment (undefined names are errors, trim_blocks and
// lstrip_blocks on) and given StackStorm's filters (to_json_string,
// regex_replace, decrypt_kv, jsonpath_query, version_*, …). On top of
// StackStorm's sandbox it bounds what one render may cost: the output
// size, the size of every intermediate string, and the loop iterations,
// and it refuses what would read files (include, import, extends) or
// recurse without bound (macro, call).
//
// RenderParams renders action parameters in dependency order, as
// StackStorm's param.py does.
//
// The package is pure: key lookups and decryption come in through the
// values and options the caller passes.
package jinja

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Limits a render may not pass. The zero value of a field means its default.
const (
	// DefaultMaxOutput bounds a template's output and every string built
	// while rendering it, in bytes.
	DefaultMaxOutput = 4 << 20
	// DefaultMaxLoop bounds the loop iterations of one render, all loops
	// together.
	DefaultMaxLoop = 100_000
	// MaxSource bounds the length of a template's source.
	MaxSource = 256 << 10
)

// Options configure an Env.
type Options struct {
	// MaxOutput: see DefaultMaxOutput.
	MaxOutput int
	// MaxLoop: see DefaultMaxLoop.
	MaxLoop int
	// Decrypt is decrypt_kv's decryption of a secret key's stored form; nil
	// makes decrypt_kv fail.
	Decrypt func(ciphertext string) (any, error)
}

// Env is a configured engine. Safe for concurrent use.
type Env struct {
	opts Options
	env  *exec.Environment
	cfg  *config.Config
}

// budgetKey names the per-render budget in the template's context; a
// template that shadows it stops its own loops.
const budgetKey = "__attune_render_budget__"

// budget counts what one render spends.
type budget struct {
	loops, maxLoops int
	decrypted       []string // what decrypt_kv returned
}

// refused are Jinja statements a parameter template may not use: they
// read other templates from files or recurse without bound.
var refused = []string{"include", "import", "from", "extends", "macro", "call"}

// New returns an engine with StackStorm's filters.
func New(o Options) *Env {
	if o.MaxOutput <= 0 {
		o.MaxOutput = DefaultMaxOutput
	}
	if o.MaxLoop <= 0 {
		o.MaxLoop = DefaultMaxLoop
	}
	e := &Env{opts: o}
	cfg := config.New()
	cfg.StrictUndefined = true
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	e.cfg = cfg

	structures := map[string]parser.ControlStructureParser{}
	for _, name := range []string{"autoescape", "block", "filter", "if", "raw", "set", "with", "do", "break", "continue", "trans"} {
		if p, ok := builtins.ControlStructures.Get(name); ok {
			structures[name] = p
		}
	}
	forParser, _ := builtins.ControlStructures.Get("for")
	structures["for"] = countedFor(forParser)

	filters := map[string]exec.FilterFunction{}
	for name, f := range builtinFilters() {
		filters[name] = e.bounded(f)
	}
	for name, f := range e.stackstormFilters() {
		filters[name] = e.bounded(f)
	}
	filters[mulFilter] = e.multiply
	filters[sizeFilter] = e.sizeCheck
	filters[printFilter] = printNone

	globals := map[string]any{}
	for _, name := range []string{"cycler", "dict", "joiner", "namespace"} {
		if v, ok := builtins.GlobalFunctions.Get(name); ok {
			globals[name] = v
		}
	}
	globals["range"] = e.rangeFunc
	// Jinja's lowercase literals.
	globals["none"] = nil
	globals["true"] = true
	globals["false"] = false
	ctx := exec.NewContext(globals).Update(builtins.GlobalVariables)

	tests := exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests)
	// StackStorm adds an "in" test: {{ x is in(list) }}.
	_ = tests.Replace("in", func(_ *exec.Context, in *exec.Value, params *exec.VarArgs) (bool, error) {
		if len(params.Args) != 1 {
			return false, errors.New("test in takes one argument")
		}
		return params.Args[0].Contains(in), nil
	})
	e.env = &exec.Environment{
		Context:           ctx,
		Filters:           exec.NewFilterSet(filters),
		Tests:             tests,
		ControlStructures: exec.NewControlStructureSet(structures),
		Methods:           builtins.Methods,
	}
	return e
}

// builtinFilters are gonja's Jinja filters, minus the ones that read the
// clock or randomness (a parameter renders the same every time).
func builtinFilters() map[string]exec.FilterFunction {
	out := map[string]exec.FilterFunction{}
	names := []string{"abs", "attr", "batch", "capitalize", "center", "default", "d", "dictsort", "e", "escape",
		"filesizeformat", "first", "float", "forceescape", "format", "groupby", "indent", "int", "join", "items",
		"last", "length", "count", "list", "lower", "map", "max", "min", "pprint", "rejectattr", "reject",
		"replace", "reverse", "round", "safe", "selectattr", "select", "slice", "sort", "string", "striptags",
		"sum", "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "urlize", "wordcount",
		"wordwrap", "xmlattr"}
	for _, n := range names {
		if f, ok := builtins.Filters.Get(n); ok {
			out[n] = f
		}
	}
	return out
}

// Template is a parsed template.
type Template struct {
	env  *Env
	t    *exec.Template
	vars []string
}

// SyntaxError is a template that does not parse.
type SyntaxError struct{ Err error }

func (e *SyntaxError) Error() string { return "template syntax error: " + e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

// Parse parses src. Errors are *SyntaxError.
func (e *Env) Parse(src string) (t *Template, err error) {
	if len(src) > MaxSource {
		return nil, &SyntaxError{Err: fmt.Errorf("template is longer than %d bytes", MaxSource)}
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &SyntaxError{Err: fmt.Errorf("%v", r)}
		}
	}()
	for _, name := range refused {
		if hasStatement(src, name) {
			return nil, &SyntaxError{Err: fmt.Errorf("the %q statement is not allowed in parameter templates", name)}
		}
	}
	gsrc := pyEscapes(src)
	tpl, err := exec.NewTemplate("template", e.cfg, sourceLoader(gsrc), e.env)
	if err != nil {
		return nil, &SyntaxError{Err: trimParseError(err, gsrc)}
	}
	w := &walker{bound: map[string]bool{}, used: map[string]bool{}, seen: map[uintptr]bool{}}
	w.walk(reflect.ValueOf(tpl.Root()))
	var vars []string
	for name := range w.used {
		if !w.bound[name] && !e.env.Context.Has(name) && name != "loop" && name != "self" {
			vars = append(vars, name)
		}
	}
	sort.Strings(vars)
	return &Template{env: e, t: tpl, vars: vars}, nil
}

// trimParseError drops the template source gonja repeats in its message.
func trimParseError(err error, src string) error {
	msg := strings.Replace(err.Error(), fmt.Sprintf("failed to parse template '%s': ", src), "", 1)
	return errors.New(msg)
}

// hasStatement reports whether src opens a {% name … %} statement.
func hasStatement(src, name string) bool {
	s := src
	for {
		i := strings.Index(s, "{%")
		if i < 0 {
			return false
		}
		s = s[i+2:]
		rest := strings.TrimLeft(s, "-+ \t\r\n")
		if strings.HasPrefix(rest, name) {
			after := rest[len(name):]
			if after == "" || !isNameByte(after[0]) {
				return true
			}
		}
	}
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Variables are the names the template reads that it does not define
// itself (Jinja's find_undeclared_variables): the parameters and context
// roots it depends on.
func (t *Template) Variables() []string { return slices.Clone(t.vars) }

// Render renders t with vars. A missing variable, a filter error or a
// limit passed is an error; a panic inside the engine is turned into one.
func (t *Template) Render(vars map[string]any) (string, error) {
	out, _, err := t.render(vars)
	return out, err
}

// render is Render that also returns what decrypt_kv decrypted.
func (t *Template) render(vars map[string]any) (out string, decrypted []string, err error) {
	data := make(map[string]any, len(vars)+1)
	for k, v := range vars {
		data[k] = v
	}
	b := &budget{maxLoops: t.env.opts.MaxLoop}
	data[budgetKey] = b
	w := &limitWriter{max: t.env.opts.MaxOutput}
	defer func() {
		if r := recover(); r != nil {
			out, decrypted, err = "", nil, fmt.Errorf("template failed: %v", r)
		}
	}()
	if err := t.t.Execute(w, exec.NewContext(data)); err != nil {
		return "", nil, cleanError(err)
	}
	return w.buf.String(), b.decrypted, nil
}

var (
	undefinedName = regexp.MustCompile(`Unable to evaluate name "([^"]*)"`)
	filterCall    = regexp.MustCompile(`unable to evaluate filter .*?invalid call to filter '[^']*': `)
	funcCall      = regexp.MustCompile(`invalid call to function '[^']*': `)
	missingAttr   = regexp.MustCompile(`Unable to evaluate (.*): attribute '([^']*)' not found`)
	wrapPrefix    = regexp.MustCompile(`^(Unable to (render expression|execute controlStructure|evaluate filter|evaluate target) at line \d+: [^:]*: )+`)
)

// cleanError shortens gonja's wrapped errors to their cause, with Jinja's
// words for an undefined name.
func cleanError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "unable to execute template: ")
	if m := undefinedName.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("'%s' is undefined", m[1])
	}
	if m := missingAttr.FindStringSubmatch(msg); m != nil {
		obj := strings.TrimSuffix(m[1], "."+m[2])
		if strings.Contains(obj, "(") {
			return fmt.Errorf("the value has no attribute '%s'", m[2])
		}
		return fmt.Errorf("'%s' has no attribute '%s'", obj, m[2])
	}
	msg = filterCall.ReplaceAllString(msg, "")
	msg = funcCall.ReplaceAllString(msg, "")
	return errors.New(wrapPrefix.ReplaceAllString(msg, ""))
}

// Render parses and renders src in one step.
func (e *Env) Render(src string, vars map[string]any) (string, error) {
	t, err := e.Parse(src)
	if err != nil {
		return "", err
	}
	return t.Render(vars)
}

// IsTemplate reports whether s holds a Jinja expression or statement, as
// StackStorm's is_jinja_expression does.
func IsTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%")
}

// limitWriter is the output buffer, refusing to grow past max.
type limitWriter struct {
	buf bytes.Buffer
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, fmt.Errorf("the output is longer than %d bytes", w.max)
	}
	return w.buf.Write(p)
}

// sourceLoader serves the template's own source and nothing else: no
// template may read a file.
type sourceLoader string

func (l sourceLoader) Read(path string) (io.Reader, error) {
	if path != "template" {
		return nil, fmt.Errorf("templates cannot load %q", path)
	}
	return strings.NewReader(string(l)), nil
}
func (l sourceLoader) Resolve(path string) (string, error) { return path, nil }
func (l sourceLoader) Inherit(string) (loaders.Loader, error) {
	return nil, errors.New("templates cannot load other templates")
}

// countedFor wraps the for statement so each iteration spends one unit of
// the render's loop budget.
func countedFor(inner parser.ControlStructureParser) parser.ControlStructureParser {
	return func(p *parser.Parser, args *parser.Parser) (nodes.ControlStructure, error) {
		cs, err := inner(p, args)
		if err != nil {
			return nil, err
		}
		if w := bodyOf(cs); w != nil {
			tick := &nodes.ControlStructureBlock{Location: w.Location, Name: "loop budget", ControlStructure: &loopTick{at: w.Location}}
			w.Nodes = append([]nodes.Node{tick}, w.Nodes...)
		}
		return cs, nil
	}
}

// bodyOf finds the body of a parsed for statement.
func bodyOf(cs nodes.ControlStructure) *nodes.Wrapper {
	v := reflect.ValueOf(cs)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("BodyWrapper")
	if !f.IsValid() || !f.CanInterface() {
		return nil
	}
	w, _ := f.Interface().(*nodes.Wrapper)
	return w
}

// loopTick spends one loop iteration.
type loopTick struct{ at *tokens.Token }

func (l *loopTick) Position() *tokens.Token { return l.at }
func (l *loopTick) String() string          { return "loop budget" }
func (l *loopTick) Execute(r *exec.Renderer, _ *nodes.ControlStructureBlock) error {
	v, _ := r.Environment.Context.Get(budgetKey)
	b, ok := v.(*budget)
	if !ok {
		return errors.New("loop budget unavailable")
	}
	b.loops++
	if b.loops > b.maxLoops {
		return fmt.Errorf("loops ran more than %d iterations", b.maxLoops)
	}
	return nil
}

// rangeFunc is Jinja's range, bounded by the loop budget.
func (e *Env) rangeFunc(_ *exec.Evaluator, params *exec.VarArgs) ([]int, error) {
	start, stop, step := 0, 0, 1
	ints := make([]int, len(params.Args))
	for i, a := range params.Args {
		if !a.IsInteger() {
			return nil, exec.ErrInvalidCall(errors.New("range takes integers"))
		}
		ints[i] = a.Integer()
	}
	switch len(ints) {
	case 1:
		stop = ints[0]
	case 2:
		start, stop = ints[0], ints[1]
	case 3:
		start, stop, step = ints[0], ints[1], ints[2]
	default:
		return nil, exec.ErrInvalidCall(errors.New("expected signature is [start, ]stop[, step]"))
	}
	if step == 0 {
		return nil, exec.ErrInvalidCall(errors.New("range step cannot be 0"))
	}
	n := 0
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && start > stop {
		n = (start - stop - step - 1) / -step
	}
	if n > e.opts.MaxLoop || n < 0 {
		return nil, fmt.Errorf("range of more than %d items", e.opts.MaxLoop)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = start + i*step
	}
	return out, nil
}

// Filters the parser inserts in place of operators that could build huge
// strings: a*b is {{ a | __attune_mul(b) }}, a+b and a~b are checked after.
const (
	mulFilter   = "__attune_mul"
	sizeFilter  = "__attune_size"
	printFilter = "__attune_print"
)

// printNone is how {{ … }} prints a value: None as "None".
func printNone(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if !in.IsError() && in.IsNil() {
		return exec.AsValue("None")
	}
	return in
}

// multiply is Jinja's *, refusing a string longer than MaxOutput.
func (e *Env) multiply(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	right := params.First()
	if right.IsError() {
		return right
	}
	switch {
	case in.IsFloat() || right.IsFloat():
		return exec.AsValue(in.Float() * right.Float())
	case in.IsString() && right.IsInteger(), right.IsString() && in.IsInteger():
		s, n := in.String(), right.Integer()
		if right.IsString() {
			s, n = right.String(), in.Integer()
		}
		if n <= 0 {
			return exec.AsValue("")
		}
		if len(s) > 0 && n > e.opts.MaxOutput/len(s) {
			return exec.AsValue(fmt.Errorf("a string longer than %d bytes", e.opts.MaxOutput))
		}
		return exec.AsValue(strings.Repeat(s, n))
	}
	return exec.AsValue(in.Integer() * right.Integer())
}

// sizeCheck fails on a string or list larger than MaxOutput.
func (e *Env) sizeCheck(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	return e.checkSize(in)
}

func (e *Env) checkSize(v *exec.Value) *exec.Value {
	if v.IsError() {
		return v
	}
	if v.IsString() && len(v.String()) > e.opts.MaxOutput {
		return exec.AsValue(fmt.Errorf("a string longer than %d bytes", e.opts.MaxOutput))
	}
	if v.IsList() && v.Len() > e.opts.MaxOutput {
		return exec.AsValue(fmt.Errorf("a list longer than %d items", e.opts.MaxOutput))
	}
	return v
}

// bounded wraps a filter: width arguments are checked before (center,
// indent and the like allocate them) and the result after.
func (e *Env) bounded(f exec.FilterFunction) exec.FilterFunction {
	return func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) (out *exec.Value) {
		for _, a := range params.Args {
			if a.IsInteger() && a.Integer() > e.opts.MaxOutput {
				return exec.AsValue(fmt.Errorf("argument %d is larger than %d", a.Integer(), e.opts.MaxOutput))
			}
		}
		for _, a := range params.KwArgs {
			if a.IsInteger() && a.Integer() > e.opts.MaxOutput {
				return exec.AsValue(fmt.Errorf("argument %d is larger than %d", a.Integer(), e.opts.MaxOutput))
			}
		}
		defer func() {
			if r := recover(); r != nil {
				out = exec.AsValue(fmt.Errorf("%v", r))
			}
		}()
		return e.checkSize(f(ev, in, params))
	}
}

// walker collects the names a parsed template reads and binds, and
// rewrites string-building operators into checked filters. It reads
// gonja's node structs by reflection: some statements keep their
// expressions in unexported fields.
type walker struct {
	bound, used map[string]bool
	seen        map[uintptr]bool
}

var (
	nameType   = reflect.TypeFor[*nodes.Name]()
	outputType = reflect.TypeFor[*nodes.Output]()
	exprType   = reflect.TypeFor[nodes.Expression]()
)

func (w *walker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
		if v.Type() == nameType {
			w.used[nameOf(v)] = true
			return
		}
		if v.Type() == outputType {
			// Reached through unexported fields too (an if's body): read
			// by address, not Interface.
			o := (*nodes.Output)(v.UnsafePointer())
			if o.Expression == nil {
				return
			}
			// {{ x }} prints None for None, as Jinja does.
			w.walk(v.Elem())
			o.Expression = &nodes.FilteredExpression{Expression: o.Expression, Filters: []*nodes.FilterCall{{
				Token: o.Start, Name: printFilter, Kwargs: map[string]nodes.Expression{},
			}}}
			return
		}
		w.walk(v.Elem())
	case reflect.Struct:
		t := v.Type()
		if t == reflect.TypeFor[tokens.Token]() {
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			switch t.Field(i).Name {
			case "Key", "Value":
				// for key, value in …: names the loop binds.
				if f.Kind() == reflect.String && strings.Contains(t.Name(), "For") {
					w.bound[f.String()] = true
					continue
				}
			case "target":
				// set target = …
				w.bindTargets(f)
			case "pairs":
				// with name = …
				if f.Kind() == reflect.Map {
					for _, k := range f.MapKeys() {
						w.bound[k.String()] = true
					}
				}
			}
			w.rewrite(f)
			w.walk(f)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			w.rewrite(v.Index(i))
			w.walk(v.Index(i))
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			w.walk(iter.Value())
		}
	}
}

// bindTargets marks the names a set statement assigns.
func (w *walker) bindTargets(f reflect.Value) {
	for f.Kind() == reflect.Interface && !f.IsNil() {
		f = f.Elem()
	}
	if f.Kind() == reflect.Pointer && f.Type() == nameType && !f.IsNil() {
		w.bound[nameOf(f)] = true
	}
}

// nameOf reads a *nodes.Name's identifier.
func nameOf(v reflect.Value) string {
	tok := v.Elem().FieldByName("Name")
	if tok.IsNil() {
		return ""
	}
	return tok.Elem().FieldByName("Val").String()
}

// rewrite replaces, in place, a binary expression held in slot f whose
// operator can build a large string: * becomes the checked multiply, + and
// ~ are followed by a size check.
func (w *walker) rewrite(f reflect.Value) {
	if f.Type() != exprType || f.IsNil() {
		return
	}
	if !f.CanInterface() {
		if !f.CanAddr() {
			return
		}
		// An unexported field of a statement: addressable, not exported.
		f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
	}
	b, ok := f.Elem().Interface().(*nodes.BinaryExpression)
	if !ok || b.Operator == nil || b.Operator.Token == nil {
		return
	}
	if w.seen[reflect.ValueOf(b).Pointer()] {
		return
	}
	w.seen[reflect.ValueOf(b).Pointer()] = true
	w.walk(reflect.ValueOf(b).Elem()) // operands first: they may be rewritten too
	var repl nodes.Expression
	switch b.Operator.Token.Type {
	case tokens.Multiply:
		repl = &nodes.FilteredExpression{Expression: b.Left, Filters: []*nodes.FilterCall{{
			Token: b.Operator.Token, Name: mulFilter, Args: []nodes.Expression{b.Right}, Kwargs: map[string]nodes.Expression{},
		}}}
	case tokens.Addition, tokens.Tilde:
		repl = &nodes.FilteredExpression{Expression: b, Filters: []*nodes.FilterCall{{
			Token: b.Operator.Token, Name: sizeFilter, Kwargs: map[string]nodes.Expression{},
		}}}
	default:
		return
	}
	if !f.CanSet() {
		return
	}
	f.Set(reflect.ValueOf(repl))
	// The caller's walk of the replacement finds the operands done.
	w.seen[reflect.ValueOf(repl).Pointer()] = true
}
