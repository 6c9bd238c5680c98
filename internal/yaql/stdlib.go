package yaql

import (
	"fmt"
	"strings"
)

// builtin is a function with its arity and accepted key => value names.
type builtin struct {
	min, max int      // positional arguments, receiver included; max -1: any
	named    []string // accepted key => value names
	anyNamed bool     // any key => value is accepted (dict(), let(), user functions)
	user     bool     // registered by the caller: its result is normalized
	fn       Func
}

func (b *builtin) arity() string {
	switch {
	case b.max < 0:
		return fmt.Sprintf("at least %d arguments", b.min)
	case b.min == b.max:
		return fmt.Sprintf("%d arguments", b.min)
	}
	return fmt.Sprintf("%d to %d arguments", b.min, b.max)
}

// stdlib is the standard library, shared read-only by every context.
var stdlib = map[string]*builtin{}

func def(name string, min, max int, fn Func, named ...string) {
	stdlib[name] = &builtin{min: min, max: max, named: named, fn: fn}
}

func defAny(name string, min, max int, fn Func) {
	stdlib[name] = &builtin{min: min, max: max, anyNamed: true, fn: fn}
}

func alias(name, to string) { stdlib[name] = stdlib[to] }

// Functions lists the names of the standard functions, for documentation and tests.
func Functions() []string {
	out := make([]string, 0, len(stdlib))
	for k := range stdlib {
		out = append(out, k)
	}
	return out
}

// param evaluates positional argument i, or else the key => value argument
// of that name; ok is false when neither is given.
func param(c *Call, i int, name string) (any, bool, error) {
	if i < c.Len() {
		v, err := c.Arg(i)
		return v, true, err
	}
	if name == "" {
		return nil, false, nil
	}
	return c.Named(name)
}

func paramLambda(c *Call, i int, name string) (func(args ...any) (any, error), bool) {
	if i < c.Len() {
		return c.Lambda(i), true
	}
	if name == "" {
		return nil, false
	}
	return c.namedLambda(name)
}

func listArg(c *Call, i int) ([]any, error) {
	v, err := c.Arg(i)
	if err != nil {
		return nil, err
	}
	l, err := toList(v)
	if err != nil {
		return nil, fmt.Errorf("%s(): argument %d: %w", c.Name, i+1, err)
	}
	return l, nil
}

func stringArg(c *Call, i int) (string, error) {
	v, err := c.Arg(i)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s(): argument %d must be a string, not a %s", c.Name, i+1, typeName(v))
	}
	return s, nil
}

func dictArg(c *Call, i int) (map[string]any, error) {
	v, err := c.Arg(i)
	if err != nil {
		return nil, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s(): argument %d must be a dictionary, not a %s", c.Name, i+1, typeName(v))
	}
	return d, nil
}

func toInt(c *Call, v any, what string) (int64, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("%s(): %s must be an integer, not a %s", c.Name, what, typeName(v))
	}
	return n, nil
}

func intParam(c *Call, i int, name string, dflt int64) (int64, error) {
	v, ok, err := param(c, i, name)
	if err != nil || !ok {
		return dflt, err
	}
	return toInt(c, v, name)
}

// optStringParam returns a string parameter that may be null or absent.
func optStringParam(c *Call, i int, name string) (string, bool, error) {
	v, ok, err := param(c, i, name)
	if err != nil || !ok || v == nil {
		return "", false, err
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, fmt.Errorf("%s(): %s must be a string, not a %s", c.Name, name, typeName(v))
	}
	return s, true, nil
}

func boolParam(c *Call, i int, name string, dflt bool) (bool, error) {
	v, ok, err := param(c, i, name)
	if err != nil || !ok {
		return dflt, err
	}
	return truthy(v), nil
}

// each runs f over a list, charging a step per element.
func each(c *Call, items []any, f func(i int, e any) error) error {
	if err := c.ev.charge(len(items)); err != nil {
		return err
	}
	for i, e := range items {
		if err := f(i, e); err != nil {
			return err
		}
	}
	return nil
}

func (c *Call) newList(n int) ([]any, error) {
	if err := c.ev.checkItems(n); err != nil {
		return nil, err
	}
	return make([]any, 0, n), nil
}

// appendItem appends to a list the function builds, within the item limit.
func (c *Call) appendItem(out []any, v ...any) ([]any, error) {
	if err := c.ev.checkItems(len(out) + len(v)); err != nil {
		return nil, err
	}
	return append(out, v...), nil
}

func (c *Call) str(s string) (any, error) {
	if err := c.ev.checkString(len(s)); err != nil {
		return nil, err
	}
	return s, nil
}

func describeCall(c *Call) string {
	if c.Method {
		return "." + c.Name + "()"
	}
	return c.Name + "()"
}

func unsupported(c *Call, v any) error {
	return fmt.Errorf("%s is not defined for a %s", describeCall(c), typeName(v))
}

func joinNames(names []string) string { return strings.Join(names, ", ") }
