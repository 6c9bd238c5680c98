package jinja

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/nodes"
)

// Function is a global function templates call as name(args…): it receives
// the render's evaluator (Lookup reads the render's variables through it)
// and its arguments.
type Function func(ev *exec.Evaluator, params *exec.VarArgs) (any, error)

// Valuer is a template value that stands for a plain Go value when a
// template's result is taken as a value (Template.Eval) or passed to a
// filter: a lazy view of data that is only read when a template looks
// into it.
type Valuer interface {
	JinjaValue() any
}

// Extend returns an engine that also has globals: values, and Functions
// templates call as name(args…). Each Function is a filter too, x | name(args…)
// = name(x, args…), unless a filter has that name (Orquesta registers its
// functions as both). A render's own variables shadow the globals. e is not
// changed.
func (e *Env) Extend(globals map[string]any) *Env {
	out := *e
	env := *e.env
	env.Filters = exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(e.env.Filters)
	data := make(map[string]any, len(globals))
	for k, v := range globals {
		if f, ok := v.(Function); ok {
			if !env.Filters.Exists(k) {
				_ = env.Filters.Register(k, e.bounded(functionFilter(f)))
			}
			v = func(ev *exec.Evaluator, p *exec.VarArgs) (any, error) {
				out, err := f(ev, p)
				if err != nil {
					return nil, err
				}
				if x, ok := out.(*exec.Value); ok {
					return goValue(x), nil
				}
				return out, nil
			}
		}
		data[k] = v
	}
	env.Context = e.env.Context.Inherit().Update(exec.NewContext(data))
	out.env = &env
	return &out
}

// FilterFunc returns filter name as a Function name(x, args…) = x | name(args…),
// as Orquesta registers StackStorm's filters as functions too; nil when there
// is no such filter.
func (e *Env) FilterFunc(name string) Function {
	f, ok := e.env.Filters.Get(name)
	if !ok {
		return nil
	}
	return func(ev *exec.Evaluator, params *exec.VarArgs) (any, error) {
		if len(params.Args) == 0 {
			return nil, fmt.Errorf("%s() takes at least one argument", name)
		}
		rest := exec.NewVarArgs()
		rest.Args = params.Args[1:]
		rest.KwArgs = params.KwArgs
		v := f(ev, params.Args[0], rest)
		if v.IsError() {
			return nil, errors.New(v.Error())
		}
		// A *exec.Value returned as any would read as an error value.
		return goValue(v), nil
	}
}

// Lookup reads a variable of the render ev belongs to (for Functions).
func Lookup(ev *exec.Evaluator, name string) (any, bool) {
	if ev == nil || ev.Environment == nil || ev.Environment.Context == nil {
		return nil, false
	}
	return ev.Environment.Context.Get(name)
}

// Plain converts a template value to plain Go values (nil, bool, int,
// float64, string, []any, map[string]any), as filters receive them.
func Plain(v *exec.Value) any { return goValue(v) }

// IsExpression reports whether the template is exactly one {{ … }}
// expression, with nothing around it.
func (t *Template) IsExpression() bool {
	root := t.t.Root()
	if root == nil || len(root.Nodes) != 1 {
		return false
	}
	_, ok := root.Nodes[0].(*nodes.Output)
	return ok
}

// ErrNotExpression is Eval's error for a template that is not one {{ }}.
var ErrNotExpression = errors.New("the template is not a single {{ }} expression")

// Eval evaluates a template that is exactly one {{ … }} expression (see
// IsExpression) and returns its value as plain Go values instead of text,
// the way Orquesta and StackStorm keep a whole-string expression's type:
// None stays nil, a list a list. Errors are as Render's.
func (t *Template) Eval(vars map[string]any) (out any, err error) {
	if !t.IsExpression() {
		return nil, ErrNotExpression
	}
	data := make(map[string]any, len(vars)+1)
	for k, v := range vars {
		data[k] = v
	}
	b := &budget{maxLoops: t.env.opts.MaxLoop}
	data[budgetKey] = b
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("template failed: %v", r)
		}
	}()
	return t.evalOutput(&exec.Evaluator{
		Config: t.env.cfg,
		Environment: &exec.Environment{
			Tests:             t.env.env.Tests,
			Filters:           t.env.env.Filters,
			ControlStructures: t.env.env.ControlStructures,
			Context:           t.env.env.Context.Inherit().Update(exec.NewContext(data)),
			Methods:           t.env.env.Methods,
		},
		Loader: sourceLoader(""),
	})
}

// evalOutput evaluates the template's one output to a plain value.
func (t *Template) evalOutput(ev *exec.Evaluator) (any, error) {
	o := t.t.Root().Nodes[0].(*nodes.Output)
	expr := unprinted(o.Expression)
	var v *exec.Value
	if o.Condition != nil {
		c := ev.Eval(o.Condition)
		if c.IsError() {
			return nil, cleanError(c)
		}
		switch {
		case c.IsTrue():
			v = ev.Eval(expr)
		case o.Alternative != nil:
			v = ev.Eval(unprinted(o.Alternative))
		default:
			return nil, nil
		}
	} else {
		v = ev.Eval(expr)
	}
	if v.IsError() {
		return nil, cleanError(v)
	}
	return goValue(v), nil
}

// unprinted undoes the walker's print filter: Eval keeps None as nil.
func unprinted(x nodes.Expression) nodes.Expression {
	if f, ok := x.(*nodes.FilteredExpression); ok && len(f.Filters) == 1 && f.Filters[0].Name == printFilter {
		return f.Expression
	}
	return x
}

// Vars are one render's variables, prepared once for the many templates and expressions
// evaluated with them (a workflow step renders several): the map is shared, not copied, and
// the loop budget is the steps' together. The map must not change while in use.
type Vars struct {
	env *Env
	ctx *exec.Context
}

// Prepare prepares vars for EvalVars and RenderVars of templates parsed by e.
func (e *Env) Prepare(vars map[string]any) *Vars {
	if vars == nil {
		vars = map[string]any{}
	}
	vars[budgetKey] = &budget{maxLoops: e.opts.MaxLoop}
	ctx := e.env.Context.Inherit()
	if !shareData(ctx, vars) {
		ctx.Update(exec.NewContext(vars))
	}
	return &Vars{env: e, ctx: ctx}
}

// shareData makes vars the data of ctx (a fresh child of the engine's context) without
// copying it; false when gonja's Context is not the struct this expects.
func shareData(ctx *exec.Context, vars map[string]any) bool {
	f := reflect.ValueOf(ctx).Elem().FieldByName("data")
	if !f.IsValid() || f.Type() != reflect.TypeFor[map[string]any]() {
		return false
	}
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(vars))
	return true
}

func (t *Template) environment(v *Vars) *exec.Environment {
	return &exec.Environment{
		Tests:             t.env.env.Tests,
		Filters:           t.env.env.Filters,
		ControlStructures: t.env.env.ControlStructures,
		Context:           v.ctx.Inherit(),
		Methods:           t.env.env.Methods,
	}
}

// EvalVars is Eval with prepared variables.
func (t *Template) EvalVars(v *Vars) (out any, err error) {
	if !t.IsExpression() {
		return nil, ErrNotExpression
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("template failed: %v", r)
		}
	}()
	return t.evalOutput(&exec.Evaluator{Config: t.env.cfg, Environment: t.environment(v), Loader: sourceLoader("")})
}

// RenderVars is Render with prepared variables.
func (t *Template) RenderVars(v *Vars) (out string, err error) {
	w := &limitWriter{max: t.env.opts.MaxOutput}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("template failed: %v", r)
		}
	}()
	r := exec.NewRenderer(t.environment(v), w, t.env.cfg, sourceLoader(""), t.t)
	if err := r.Execute(); err != nil {
		return "", cleanError(err)
	}
	return w.buf.String(), nil
}

// functionFilter is f as a filter: the filtered value is its first argument.
func functionFilter(f Function) exec.FilterFunction {
	return func(ev *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		p := exec.NewVarArgs()
		p.Args = append([]*exec.Value{in}, params.Args...)
		p.KwArgs = params.KwArgs
		out, err := f(ev, p)
		if err != nil {
			return exec.AsValue(err)
		}
		if x, ok := out.(*exec.Value); ok {
			return x
		}
		return exec.AsValue(out)
	}
}
