package yaql

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Error is a syntax or evaluation error, with the expression and the byte
// position in it where the problem is.
type Error struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("yaql: %s at position %d in expression %q", e.Msg, e.Pos, e.Expr)
}

// ErrLimit is wrapped by the errors raised when an evaluation exceeds its Limits.
var ErrLimit = errors.New("evaluation limit exceeded")

// Limits bound the work one evaluation may do.
type Limits struct {
	MaxSteps     int // evaluation steps (nodes evaluated plus elements processed)
	MaxDepth     int // nesting of the expression's syntax; calls may nest 10× this
	MaxItems     int // elements in one list or dictionary built by the expression
	MaxStringLen int // bytes in one string built by the expression
	MaxExprLen   int // bytes in the expression text
}

// DefaultLimits are generous for workflow expressions and small enough that
// hostile input fails fast.
func DefaultLimits() Limits {
	return Limits{MaxSteps: 1_000_000, MaxDepth: 200, MaxItems: 100_000, MaxStringLen: 1 << 20, MaxExprLen: 64 << 10}
}

// Func is a function callable from expressions. It receives its arguments
// unevaluated through Call, so it can evaluate them as values (Arg) or as
// lambdas over $ (Lambda).
type Func func(c *Call) (any, error)

// Context holds variables and functions. A child context sees its parent's
// variables and functions and may shadow them. Contexts are not safe for
// concurrent mutation; evaluating in a shared, unmodified context is safe.
type Context struct {
	parent *Context
	vars   map[string]any
	funcs  map[string]*builtin
	limits *Limits
}

// NewContext returns a root context with the standard library and default limits.
func NewContext() *Context {
	l := DefaultLimits()
	return &Context{vars: map[string]any{}, funcs: map[string]*builtin{}, limits: &l}
}

// Child returns a context that inherits c's variables and functions.
func (c *Context) Child() *Context {
	return &Context{parent: c, vars: map[string]any{}, funcs: map[string]*builtin{}}
}

// SetLimits replaces the limits of evaluations run in c and its children.
func (c *Context) SetLimits(l Limits) { c.limits = &l }

// Limits returns the limits that apply in c.
func (c *Context) Limits() Limits {
	for p := c; p != nil; p = p.parent {
		if p.limits != nil {
			return *p.limits
		}
	}
	return DefaultLimits()
}

// varKey is the stored name of a variable: $ and $1 are the same variable,
// as in YAQL.
func varKey(name string) string {
	name = strings.TrimPrefix(name, "$")
	if name == "" {
		return "1"
	}
	return name
}

// Set binds a variable: "$" (or "") is the data the expression works on,
// any other name is $name. The value is normalized (see Normalize).
func (c *Context) Set(name string, value any) error {
	v, err := Normalize(value)
	if err != nil {
		return fmt.Errorf("variable $%s: %w", varKey(name), err)
	}
	c.vars[varKey(name)] = v
	return nil
}

// Get returns a variable as seen from c.
func (c *Context) Get(name string) (any, bool) {
	k := varKey(name)
	for p := c; p != nil; p = p.parent {
		if v, ok := p.vars[k]; ok {
			return v, true
		}
	}
	return nil, false
}

// Register adds a function, shadowing a standard or inherited one of the same
// name. It is called both as name(args) and as receiver.name(args); in the
// method form the receiver is argument 0.
func (c *Context) Register(name string, f Func) {
	c.funcs[name] = &builtin{min: 0, max: -1, anyNamed: true, user: true, fn: f}
}

// RegisterTrusted is Register for a function whose results are already
// normal (see Normalize), such as data normalized once when the workflow
// state was loaded: its results are not walked again on every call.
func (c *Context) RegisterTrusted(name string, f Func) {
	c.funcs[name] = &builtin{min: 0, max: -1, anyNamed: true, fn: f}
}

func (c *Context) lookup(name string) *builtin {
	for p := c; p != nil; p = p.parent {
		if b, ok := p.funcs[name]; ok {
			return b
		}
	}
	return stdlib[name]
}

// Expression is a parsed expression.
type Expression struct {
	src  string
	root node
}

// String returns the expression's text.
func (e *Expression) String() string { return e.src }

// Evaluate parses and evaluates an expression in ctx (a new context when nil).
func Evaluate(expr string, ctx *Context) (any, error) {
	if ctx == nil {
		ctx = NewContext()
	}
	e, err := parseWith(expr, ctx.Limits())
	if err != nil {
		return nil, err
	}
	return e.Evaluate(ctx)
}

// Evaluate runs a parsed expression in ctx (a new context when nil). The
// result holds only nil, bool, int64, float64, string, []any and map[string]any.
func (e *Expression) Evaluate(ctx *Context) (res any, err error) {
	if ctx == nil {
		ctx = NewContext()
	}
	ev := &evaluator{src: e.src, lim: ctx.Limits()}
	v, err := ev.eval(e.root, ctx)
	if err != nil {
		return nil, err
	}
	return ev.output(v, e.root)
}

type evaluator struct {
	src   string
	lim   Limits
	steps int
	depth int
}

func (ev *evaluator) errAt(n node, err error) error {
	var ye *Error
	if errors.As(err, &ye) {
		return err
	}
	pos := 0
	if n != nil {
		pos = n.position()
	}
	return &wrapped{e: Error{Expr: ev.src, Pos: pos, Msg: err.Error()}, cause: err}
}

// wrapped is an *Error that keeps its cause for errors.Is (ErrLimit).
type wrapped struct {
	e     Error
	cause error
}

func (w *wrapped) Error() string { return w.e.Error() }
func (w *wrapped) Unwrap() error { return w.cause }
func (w *wrapped) As(target any) bool {
	if t, ok := target.(**Error); ok {
		*t = &w.e
		return true
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (ev *evaluator) charge(n int) error {
	ev.steps += n
	if ev.lim.MaxSteps > 0 && ev.steps > ev.lim.MaxSteps {
		return fmt.Errorf("%w: more than %d steps", ErrLimit, ev.lim.MaxSteps)
	}
	return nil
}

// remaining is the number of steps left.
func (ev *evaluator) remaining() int {
	if ev.lim.MaxSteps <= 0 {
		return math.MaxInt / 2
	}
	return ev.lim.MaxSteps - ev.steps
}

// eq is equal within the step budget: a deep comparison costs a step per node.
func (ev *evaluator) eq(a, b any) (bool, error) {
	bud := budget{left: ev.remaining()}
	r := equalB(a, b, &bud)
	if err := ev.charge(ev.remaining() - bud.left); err != nil {
		return false, err
	}
	return r, nil
}

func (ev *evaluator) checkItems(n int) error {
	if ev.lim.MaxItems > 0 && n > ev.lim.MaxItems {
		return fmt.Errorf("%w: a collection of more than %d items", ErrLimit, ev.lim.MaxItems)
	}
	return ev.charge(n)
}

func (ev *evaluator) checkString(n int) error {
	if ev.lim.MaxStringLen > 0 && n > ev.lim.MaxStringLen {
		return fmt.Errorf("%w: a string longer than %d bytes", ErrLimit, ev.lim.MaxStringLen)
	}
	return nil
}

// output turns internal values (orderings, contexts) into plain ones.
func (ev *evaluator) output(v any, n node) (any, error) {
	switch x := v.(type) {
	case *ordering:
		items, err := x.sorted()
		if err != nil {
			return nil, ev.errAt(n, err)
		}
		return ev.output(items, n)
	case []any:
		if err := ev.charge(len(x)); err != nil {
			return nil, ev.errAt(n, err)
		}
		for _, e := range x {
			switch e.(type) {
			case *ordering, *Context, *regexp.Regexp, []any, map[string]any:
				out := make([]any, len(x))
				for i, e := range x {
					o, err := ev.output(e, n)
					if err != nil {
						return nil, err
					}
					out[i] = o
				}
				return out, nil
			}
		}
		return x, nil
	case map[string]any:
		if err := ev.charge(len(x)); err != nil {
			return nil, ev.errAt(n, err)
		}
		var out map[string]any
		for k, e := range x {
			switch e.(type) {
			case *ordering, *Context, *regexp.Regexp, []any, map[string]any:
				o, err := ev.output(e, n)
				if err != nil {
					return nil, err
				}
				if out == nil {
					out = make(map[string]any, len(x))
					for k2, e2 := range x {
						out[k2] = e2
					}
				}
				out[k] = o
			}
		}
		if out != nil {
			return out, nil
		}
		return x, nil
	case *Context:
		return nil, ev.errAt(n, errors.New("the expression yields a context, not a value (use -> to evaluate in it)"))
	case *regexp.Regexp:
		return x.String(), nil
	}
	return v, nil
}

func (ev *evaluator) eval(n node, sc *Context) (any, error) {
	if err := ev.charge(1); err != nil {
		return nil, ev.errAt(n, err)
	}
	ev.depth++
	defer func() { ev.depth-- }()
	if max := ev.lim.MaxDepth * 10; max > 0 && ev.depth > max {
		return nil, ev.errAt(n, fmt.Errorf("%w: calls nested deeper than %d", ErrLimit, max))
	}
	switch x := n.(type) {
	case *constNode:
		return x.val, nil
	case *keywordNode:
		return x.name, nil
	case *varNode:
		v, _ := sc.Get(varKey(x.name))
		return v, nil
	case *memberNode:
		recv, err := ev.eval(x.recv, sc)
		if err != nil {
			return nil, err
		}
		if x.safe && recv == nil {
			return nil, nil
		}
		v, err := ev.member(recv, x.key)
		if err != nil {
			return nil, ev.errAt(x, err)
		}
		return v, nil
	case *callNode:
		return ev.call(x, sc)
	case *indexNode:
		return ev.index(x, sc)
	case *listNode:
		if err := ev.checkItems(len(x.items)); err != nil {
			return nil, ev.errAt(x, err)
		}
		out := make([]any, len(x.items))
		for i, a := range x.items {
			v, err := ev.eval(a.value, sc)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *mapNode:
		if err := ev.checkItems(len(x.items)); err != nil {
			return nil, ev.errAt(x, err)
		}
		out := make(map[string]any, len(x.items))
		for _, a := range x.items {
			k, err := ev.eval(a.key, sc)
			if err != nil {
				return nil, err
			}
			v, err := ev.eval(a.value, sc)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = v
		}
		return out, nil
	case *unaryNode:
		v, err := ev.eval(x.x, sc)
		if err != nil {
			return nil, err
		}
		switch x.op {
		case "not":
			return !truthy(v), nil
		case "-":
			switch n := v.(type) {
			case int64:
				if n == -n && n != 0 {
					return nil, ev.errAt(x, errors.New("integer overflow"))
				}
				return -n, nil
			case float64:
				return -n, nil
			}
		case "+":
			if isNumber(v) {
				return v, nil
			}
		}
		return nil, ev.errAt(x, fmt.Errorf("unary %s is not defined for a %s", x.op, typeName(v)))
	case *binaryNode:
		return ev.binary(x, sc)
	}
	return nil, ev.errAt(n, fmt.Errorf("unknown node %T", n))
}

// member is receiver.key: a dictionary's value, or for a list the key of each element.
func (ev *evaluator) member(recv any, key string) (any, error) {
	switch r := recv.(type) {
	case map[string]any:
		v, ok := r[key]
		if !ok {
			return nil, fmt.Errorf("key %q not found", key)
		}
		return v, nil
	case []any, *ordering:
		items, err := toList(r)
		if err != nil {
			return nil, err
		}
		if err := ev.charge(len(items)); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, e := range items {
			v, err := ev.member(e, key)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot get %q of a %s", key, typeName(recv))
}

func (ev *evaluator) index(x *indexNode, sc *Context) (any, error) {
	recv, err := ev.eval(x.recv, sc)
	if err != nil {
		return nil, err
	}
	if len(x.args) == 0 || len(x.args) > 2 {
		return nil, ev.errAt(x, errors.New("an index takes one or two values"))
	}
	args := make([]any, len(x.args))
	for i, a := range x.args {
		if a.key != nil {
			return nil, ev.errAt(x, errors.New("an index cannot be a mapping (=>)"))
		}
		if args[i], err = ev.eval(a.value, sc); err != nil {
			return nil, err
		}
	}
	switch r := recv.(type) {
	case map[string]any:
		v, ok := r[keyString(args[0])]
		if !ok {
			if len(args) == 2 {
				return args[1], nil
			}
			return nil, ev.errAt(x, fmt.Errorf("key %q not found", keyString(args[0])))
		}
		return v, nil
	case []any, *ordering:
		if len(args) != 1 {
			return nil, ev.errAt(x, errors.New("a list index takes one value"))
		}
		items, err := toList(r)
		if err != nil {
			return nil, ev.errAt(x, err)
		}
		i, ok := args[0].(int64)
		if !ok {
			return nil, ev.errAt(x, fmt.Errorf("a list index must be an integer, not a %s", typeName(args[0])))
		}
		if i < 0 {
			i += int64(len(items))
		}
		if i < 0 || i >= int64(len(items)) {
			return nil, ev.errAt(x, fmt.Errorf("list index %v out of range (length %d)", args[0], len(items)))
		}
		return items[i], nil
	}
	return nil, ev.errAt(x, fmt.Errorf("cannot index a %s", typeName(recv)))
}

func (ev *evaluator) binary(x *binaryNode, sc *Context) (any, error) {
	switch x.op {
	case "and", "or":
		l, err := ev.eval(x.l, sc)
		if err != nil {
			return nil, err
		}
		if truthy(l) == (x.op == "or") {
			return l, nil
		}
		return ev.eval(x.r, sc)
	case "->":
		l, err := ev.eval(x.l, sc)
		if err != nil {
			return nil, err
		}
		c, ok := l.(*Context)
		if !ok {
			return nil, ev.errAt(x, fmt.Errorf("the left of -> must be a context (from let(), with(), def()…), not a %s", typeName(l)))
		}
		return ev.eval(x.r, c)
	}
	l, err := ev.eval(x.l, sc)
	if err != nil {
		return nil, err
	}
	r, err := ev.eval(x.r, sc)
	if err != nil {
		return nil, err
	}
	v, err := ev.operator(x.op, l, r)
	if err != nil {
		return nil, ev.errAt(x, err)
	}
	return v, nil
}

func (ev *evaluator) call(x *callNode, sc *Context) (any, error) {
	c := &Call{Name: x.name, ev: ev, scope: sc, node: x}
	if x.recv != nil {
		recv, err := ev.eval(x.recv, sc)
		if err != nil {
			return nil, err
		}
		if x.safe && recv == nil {
			return nil, nil
		}
		c.Method = true
		c.recv = recv
	}
	for _, a := range x.args {
		if a.key == nil {
			c.positional = append(c.positional, a.value)
		} else {
			c.named = append(c.named, a)
		}
	}
	b := sc.lookup(x.name)
	if b == nil {
		kind := "function"
		if c.Method {
			kind = "method"
		}
		return nil, ev.errAt(x, fmt.Errorf("unknown %s %s()", kind, x.name))
	}
	n := c.Len()
	if n < b.min || (b.max >= 0 && n > b.max) {
		return nil, ev.errAt(x, fmt.Errorf("%s() takes %s, got %d", x.name, b.arity(), n))
	}
	if !b.anyNamed {
		for _, a := range c.named {
			name, ok := namedKey(a.key)
			if !ok || !contains(b.named, name) {
				if len(b.named) == 0 {
					return nil, ev.errAt(x, fmt.Errorf("%s() takes no key => value arguments", x.name))
				}
				return nil, ev.errAt(x, fmt.Errorf("%s() accepts only %s as key => value arguments", x.name, strings.Join(b.named, ", ")))
			}
		}
	}
	v, err := b.fn(c)
	if err != nil {
		return nil, ev.errAt(x, err)
	}
	if _, ok := v.(*Context); !ok && b.user {
		bud := budget{left: ev.remaining()}
		normal := isNormal(v, 0, &bud)
		if err := ev.charge(ev.remaining() - bud.left); err != nil {
			return nil, ev.errAt(x, err)
		}
		if !normal {
			if v, err = normalize(v, 0); err != nil {
				return nil, ev.errAt(x, fmt.Errorf("%s() returned %w", x.name, err))
			}
		}
	}
	return v, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func namedKey(n node) (string, bool) {
	switch k := n.(type) {
	case *keywordNode:
		return k.name, true
	case *constNode:
		s, ok := k.val.(string)
		return s, ok
	}
	return "", false
}

// Call gives a function its arguments. Positional arguments are numbered
// from 0; in the method form receiver.f(a) the receiver is argument 0.
type Call struct {
	Name       string // the function's name as written
	Method     bool   // called as receiver.name(…)
	recv       any
	positional []node
	named      []arg
	ev         *evaluator
	scope      *Context
	node       *callNode
}

// Len is the number of positional arguments, the receiver included.
func (c *Call) Len() int {
	if c.Method {
		return len(c.positional) + 1
	}
	return len(c.positional)
}

// Scope is the context the function was called in.
func (c *Call) Scope() *Context { return c.scope }

// Arg evaluates positional argument i.
func (c *Call) Arg(i int) (any, error) {
	if c.Method {
		if i == 0 {
			return c.recv, nil
		}
		i--
	}
	if i < 0 || i >= len(c.positional) {
		return nil, fmt.Errorf("%s(): missing argument %d", c.Name, i+1)
	}
	return c.ev.eval(c.positional[i], c.scope)
}

// Args evaluates every positional argument.
func (c *Call) Args() ([]any, error) {
	out := make([]any, c.Len())
	for i := range out {
		v, err := c.Arg(i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// Named evaluates the key => value argument of that name.
func (c *Call) Named(name string) (any, bool, error) {
	for _, a := range c.named {
		if k, ok := namedKey(a.key); ok && k == name {
			v, err := c.ev.eval(a.value, c.scope)
			return v, true, err
		}
	}
	return nil, false, nil
}

// NamedNames lists the names of the key => value arguments given.
func (c *Call) NamedNames() []string {
	var out []string
	for _, a := range c.named {
		if k, ok := namedKey(a.key); ok {
			out = append(out, k)
		}
	}
	return out
}

// Lambda returns positional argument i as a function of its arguments: it
// is evaluated in a child of the call's context where $ and $1 are the first
// argument, $2 the second, and so on (YAQL's implicit lambdas, as in
// where($ > 1)).
func (c *Call) Lambda(i int) func(args ...any) (any, error) {
	if c.Method {
		if i == 0 {
			return func(...any) (any, error) { return c.recv, nil }
		}
		i--
	}
	if i < 0 || i >= len(c.positional) {
		return func(...any) (any, error) { return nil, fmt.Errorf("%s(): missing argument %d", c.Name, i+1) }
	}
	return lambdaOf(c.ev, c.positional[i], c.scope)
}

func lambdaOf(ev *evaluator, n node, scope *Context) func(args ...any) (any, error) {
	return func(args ...any) (any, error) {
		sc := scope.Child()
		for j, a := range args {
			sc.vars[fmt.Sprint(j+1)] = a
		}
		return ev.eval(n, sc)
	}
}

// namedLambda returns the key => value argument of that name as a lambda.
func (c *Call) namedLambda(name string) (func(args ...any) (any, error), bool) {
	for _, a := range c.named {
		if k, ok := namedKey(a.key); ok && k == name {
			return lambdaOf(c.ev, a.value, c.scope), true
		}
	}
	return nil, false
}
