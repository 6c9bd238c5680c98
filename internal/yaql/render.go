package yaql

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// exprPattern finds <% … %> as Orquesta does: shortest match, not across lines.
var exprPattern = regexp.MustCompile(`<%.*?%>`)

// maxRenderDepth bounds Orquesta's re-evaluation of string results that
// themselves hold expressions.
const maxRenderDepth = 16

// HasExpressions tells whether text holds a <% … %> expression.
func HasExpressions(text string) bool { return exprPattern.MatchString(text) }

// stripDelimiter is Orquesta's strip_delimiter: drop <, % and > from both
// ends, then surrounding white space.
func stripDelimiter(expr string) string {
	return strings.TrimSpace(strings.Trim(expr, "<%>"))
}

// Validate parses every <% … %> in text and returns their syntax errors.
func Validate(text string) []error {
	var errs []error
	for _, m := range exprPattern.FindAllString(text, -1) {
		if _, err := Parse(stripDelimiter(m)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Render expands the <% … %> expressions in text as Orquesta does. A text
// that is exactly one expression yields the expression's value with its type;
// otherwise each expression is replaced by its value written as Python's
// str() would (None, True, [1, 'a'], {'k': 'v'}). A string result that holds
// expressions is rendered again. A text without expressions is returned as is.
func Render(text string, ctx *Context) (any, error) {
	return render(text, ctx, 0)
}

func render(text string, ctx *Context, depth int) (any, error) {
	if depth > maxRenderDepth {
		return nil, fmt.Errorf("yaql: expressions expand into expressions more than %d levels deep in %q", maxRenderDepth, truncate(text, 200))
	}
	locs := exprPattern.FindAllStringIndex(text, -1)
	if len(locs) == 0 {
		return text, nil
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		raw := text[loc[0]:loc[1]]
		v, err := Evaluate(stripDelimiter(raw), ctx)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			if v, err = render(s, ctx, depth+1); err != nil {
				return nil, err
			}
		}
		if len(locs) == 1 && len(raw) == len(text) {
			return v, nil
		}
		b.WriteString(text[last:loc[0]])
		vs, err := pyStrLimit(v, ctx.Limits().MaxStringLen)
		if err != nil {
			return nil, fmt.Errorf("yaql: %w", err)
		}
		b.WriteString(vs)
		last = loc[1]
		if lim := ctx.Limits().MaxStringLen; lim > 0 && b.Len() > lim {
			return nil, fmt.Errorf("yaql: %w: rendered text longer than %d bytes", ErrLimit, lim)
		}
	}
	b.WriteString(text[last:])
	return b.String(), nil
}

// RenderValue renders every string in a value, dictionary keys included, as
// Orquesta does for task inputs, publish and output blocks.
func RenderValue(v any, ctx *Context) (any, error) {
	v, err := Normalize(v)
	if err != nil {
		return nil, err
	}
	return renderValue(v, ctx)
}

func renderValue(v any, ctx *Context) (any, error) {
	switch x := v.(type) {
	case string:
		return Render(x, ctx)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := renderValue(e, ctx)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			rk, err := Render(k, ctx)
			if err != nil {
				return nil, err
			}
			r, err := renderValue(e, ctx)
			if err != nil {
				return nil, err
			}
			out[keyString(rk)] = r
		}
		return out, nil
	}
	return v, nil
}

// ErrUndefined is wrapped by ctx() when a variable is not defined.
var ErrUndefined = errors.New("variable undefined")

// NewOrquestaContext returns a context where ctx() reads the workflow
// variables as Orquesta's ctx() does: ctx() is every variable whose name does
// not start with "__", ctx(name) one variable (an error when undefined or
// private). The engine adds result(), item(), task_status() and the like
// with Register.
func NewOrquestaContext(vars map[string]any) (*Context, error) {
	c := NewContext()
	nv, err := Normalize(vars)
	if err != nil {
		return nil, err
	}
	data, _ := nv.(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	public := make(map[string]any, len(data))
	for k, v := range data {
		if !strings.HasPrefix(k, "__") {
			public[k] = v
		}
	}
	c.RegisterTrusted("ctx", func(call *Call) (any, error) {
		if call.Len() == 0 {
			return public, nil
		}
		if call.Len() > 1 {
			return nil, fmt.Errorf("ctx() takes at most one argument")
		}
		k, err := call.Arg(0)
		if err != nil {
			return nil, err
		}
		if k == nil || k == "" {
			return public, nil
		}
		name := keyString(k)
		v, ok := data[name]
		if !ok {
			return nil, fmt.Errorf("%w: the variable %q is referenced before assignment", ErrUndefined, name)
		}
		if strings.HasPrefix(name, "__") {
			return nil, fmt.Errorf("the variable %q is for internal use and inaccessible", name)
		}
		return v, nil
	})
	return c, nil
}

// CtxVars lists the workflow variables that the expressions in text read
// through ctx(): ctx().name, ctx(name), ctx('name'), sorted and distinct, as
// Orquesta's extract_vars does for its undefined-variable check. Expressions
// that do not parse are skipped (Validate reports them).
func CtxVars(text string) []string {
	seen := map[string]bool{}
	for _, m := range exprPattern.FindAllString(text, -1) {
		e, err := Parse(stripDelimiter(m))
		if err != nil {
			continue
		}
		walk(e.root, nil, func(n, parent node) {
			call, ok := n.(*callNode)
			if !ok || call.name != "ctx" || call.recv != nil {
				return
			}
			switch len(call.args) {
			case 0:
				if mem, ok := parent.(*memberNode); ok && mem.recv == n {
					seen[mem.key] = true
				}
			case 1:
				if call.args[0].key == nil {
					if name, ok := namedKey(call.args[0].value); ok && name != "" {
						seen[name] = true
					}
				}
			}
		})
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// walk visits every node of an expression with its parent.
func walk(n, parent node, f func(n, parent node)) {
	if n == nil {
		return
	}
	f(n, parent)
	visitArgs := func(args []arg) {
		for _, a := range args {
			walk(a.key, n, f)
			walk(a.value, n, f)
		}
	}
	switch x := n.(type) {
	case *callNode:
		walk(x.recv, n, f)
		visitArgs(x.args)
	case *memberNode:
		walk(x.recv, n, f)
	case *indexNode:
		walk(x.recv, n, f)
		visitArgs(x.args)
	case *listNode:
		visitArgs(x.items)
	case *mapNode:
		visitArgs(x.items)
	case *binaryNode:
		walk(x.l, n, f)
		walk(x.r, n, f)
	case *unaryNode:
		walk(x.x, n, f)
	}
}
