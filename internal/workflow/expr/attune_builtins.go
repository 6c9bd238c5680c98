package expr

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/pyfmt"
)

// attuneBuiltins are the functions of attune's expression language (the reference's §6:
// string/number/int/bool, type_of, length, keys, values, abs/floor/ceil/round/min/max/sum,
// lower/upper/trim/split/join/replace/starts_with/ends_with/match, contains/reversed/sort/
// unique/flat), called as functions; Jinja's filters stay available with |.
func attuneBuiltins() map[string]any {
	one := func(name string, f func(x any) (any, error)) jinja.Function {
		return fn(name, 1, func(_ *state, a []any, _ map[string]any) (any, error) {
			if len(a) != 1 {
				return nil, fmt.Errorf("%s() takes one argument", name)
			}
			return f(a[0])
		})
	}
	str2 := func(name string, f func(s, t string) any) jinja.Function {
		return fn(name, 2, func(_ *state, a []any, _ map[string]any) (any, error) {
			if len(a) != 2 {
				return nil, fmt.Errorf("%s() takes two arguments", name)
			}
			s, ok1 := a[0].(string)
			t, ok2 := a[1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s() takes strings", name)
			}
			return f(s, t), nil
		})
	}
	// num applies f to a number; toInt: the result is an int (floor, ceil, round), else an
	// int stays an int (abs).
	num := func(name string, f func(float64) float64, toInt bool) jinja.Function {
		return one(name, func(x any) (any, error) {
			v, ok := toFloat(x)
			if !ok {
				return nil, fmt.Errorf("%s() takes a number, not %s", name, typeOf(x))
			}
			_, isInt := x.(int64)
			if toInt || isInt {
				return int64(f(v)), nil
			}
			return f(v), nil
		})
	}
	fold := func(name string, pick func(a, b any) bool) jinja.Function {
		return fn(name, -1, func(_ *state, a []any, _ map[string]any) (any, error) {
			items := a
			if len(a) == 1 {
				l, ok := a[0].([]any)
				if !ok {
					return nil, fmt.Errorf("%s() takes a list or several values", name)
				}
				items = l
			}
			if len(items) == 0 {
				return nil, fmt.Errorf("%s() of nothing", name)
			}
			best := items[0]
			for _, x := range items[1:] {
				if pick(x, best) {
					best = x
				}
			}
			return best, nil
		})
	}
	return map[string]any{
		"string": one("string", func(x any) (any, error) { return pyfmt.Str(x), nil }),
		"number": one("number", func(x any) (any, error) {
			if s, ok := x.(string); ok {
				f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil {
					return nil, fmt.Errorf("number(): %q is not a number", s)
				}
				return f, nil
			}
			if f, ok := toFloat(x); ok {
				return f, nil
			}
			return nil, fmt.Errorf("number() of %s", typeOf(x))
		}),
		"int": one("int", func(x any) (any, error) {
			switch v := x.(type) {
			case string:
				i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					f, ferr := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if ferr != nil {
						return nil, fmt.Errorf("int(): %q is not a number", v)
					}
					return int64(f), nil
				}
				return i, nil
			case bool:
				if v {
					return int64(1), nil
				}
				return int64(0), nil
			}
			if f, ok := toFloat(x); ok {
				return int64(f), nil
			}
			return nil, fmt.Errorf("int() of %s", typeOf(x))
		}),
		"bool":    one("bool", func(x any) (any, error) { return truthy(x), nil }),
		"type_of": one("type_of", func(x any) (any, error) { return typeOf(x), nil }),
		"length": one("length", func(x any) (any, error) {
			switch v := x.(type) {
			case string:
				return int64(len([]rune(v))), nil
			case []any:
				return int64(len(v)), nil
			case map[string]any:
				return int64(len(v)), nil
			}
			return nil, fmt.Errorf("length() of %s", typeOf(x))
		}),
		"keys": one("keys", func(x any) (any, error) {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("keys() of %s", typeOf(x))
			}
			out := []any{}
			for _, k := range sortedKeys(m) {
				out = append(out, k)
			}
			return out, nil
		}),
		"values": one("values", func(x any) (any, error) {
			m, ok := x.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("values() of %s", typeOf(x))
			}
			out := []any{}
			for _, k := range sortedKeys(m) {
				out = append(out, m[k])
			}
			return out, nil
		}),
		"abs":   num("abs", math.Abs, false),
		"floor": num("floor", math.Floor, true),
		"ceil":  num("ceil", math.Ceil, true),
		"round": num("round", math.RoundToEven, true),
		"min":   fold("min", func(a, b any) bool { return compare(a, b) < 0 }),
		"max":   fold("max", func(a, b any) bool { return compare(a, b) > 0 }),
		"sum": one("sum", func(x any) (any, error) {
			l, ok := x.([]any)
			if !ok {
				return nil, fmt.Errorf("sum() of %s", typeOf(x))
			}
			var s float64
			ints := true
			for _, e := range l {
				f, ok := toFloat(e)
				if !ok {
					return nil, fmt.Errorf("sum() of a list holding %s", typeOf(e))
				}
				_, isInt := e.(int64)
				ints = ints && isInt
				s += f
			}
			if ints {
				return int64(s), nil
			}
			return s, nil
		}),
		"lower": one("lower", func(x any) (any, error) { return strings.ToLower(pyfmt.Str(x)), nil }),
		"upper": one("upper", func(x any) (any, error) { return strings.ToUpper(pyfmt.Str(x)), nil }),
		"trim":  one("trim", func(x any) (any, error) { return strings.TrimSpace(pyfmt.Str(x)), nil }),
		"split": str2("split", func(s, sep string) any {
			out := []any{}
			for _, p := range strings.Split(s, sep) {
				out = append(out, p)
			}
			return out
		}),
		"join": fn("join", 2, func(_ *state, a []any, _ map[string]any) (any, error) {
			l, ok := a[0].([]any)
			if len(a) != 2 || !ok {
				return nil, errors.New("join() takes a list and a separator")
			}
			parts := make([]string, len(l))
			for i, e := range l {
				parts[i] = pyfmt.Str(e)
			}
			return strings.Join(parts, pyfmt.Str(a[1])), nil
		}),
		"replace": fn("replace", 3, func(_ *state, a []any, _ map[string]any) (any, error) {
			if len(a) != 3 {
				return nil, errors.New("replace() takes a string, what and by what")
			}
			return strings.ReplaceAll(pyfmt.Str(a[0]), pyfmt.Str(a[1]), pyfmt.Str(a[2])), nil
		}),
		"starts_with": str2("starts_with", func(s, p string) any { return strings.HasPrefix(s, p) }),
		"ends_with":   str2("ends_with", func(s, p string) any { return strings.HasSuffix(s, p) }),
		"match": fn("match", 2, func(_ *state, a []any, _ map[string]any) (any, error) {
			if len(a) != 2 {
				return nil, errors.New("match() takes a string and a pattern")
			}
			re, err := regexp.Compile(pyfmt.Str(a[1]))
			if err != nil {
				return nil, fmt.Errorf("match(): %v", err)
			}
			return re.MatchString(pyfmt.Str(a[0])), nil
		}),
		"contains": fn("contains", 2, func(_ *state, a []any, _ map[string]any) (any, error) {
			if len(a) != 2 {
				return nil, errors.New("contains() takes a collection and a value")
			}
			switch c := a[0].(type) {
			case string:
				return strings.Contains(c, pyfmt.Str(a[1])), nil
			case []any:
				return slices.ContainsFunc(c, func(e any) bool { return compare(e, a[1]) == 0 }), nil
			case map[string]any:
				_, ok := c[pyfmt.Str(a[1])]
				return ok, nil
			}
			return nil, fmt.Errorf("contains() of %s", typeOf(a[0]))
		}),
		"reversed": one("reversed", func(x any) (any, error) {
			switch v := x.(type) {
			case string:
				r := []rune(v)
				slices.Reverse(r)
				return string(r), nil
			case []any:
				out := slices.Clone(v)
				slices.Reverse(out)
				return out, nil
			}
			return nil, fmt.Errorf("reversed() of %s", typeOf(x))
		}),
		"sort": one("sort", func(x any) (any, error) {
			l, ok := x.([]any)
			if !ok {
				return nil, fmt.Errorf("sort() of %s", typeOf(x))
			}
			out := slices.Clone(l)
			slices.SortStableFunc(out, compare)
			return out, nil
		}),
		"unique": one("unique", func(x any) (any, error) {
			l, ok := x.([]any)
			if !ok {
				return nil, fmt.Errorf("unique() of %s", typeOf(x))
			}
			out := []any{}
			for _, e := range l {
				if !slices.ContainsFunc(out, func(o any) bool { return compare(o, e) == 0 }) {
					out = append(out, e)
				}
			}
			return out, nil
		}),
		"flat": one("flat", func(x any) (any, error) {
			l, ok := x.([]any)
			if !ok {
				return nil, fmt.Errorf("flat() of %s", typeOf(x))
			}
			out := []any{}
			for _, e := range l {
				if inner, ok := e.([]any); ok {
					out = append(out, inner...)
				} else {
					out = append(out, e)
				}
			}
			return out, nil
		}),
	}
}

func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// typeOf names a value's type as attune's type_of() does.
func typeOf(x any) string {
	switch x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// compare orders values: numbers by value (int and float alike), strings by text, otherwise
// by type then by their text (deep equality compares equal).
func compare(a, b any) int {
	fa, oka := toFloat(a)
	fb, okb := toFloat(b)
	if oka && okb {
		return cmp.Compare(fa, fb)
	}
	sa, oka := a.(string)
	sb, okb := b.(string)
	if oka && okb {
		return strings.Compare(sa, sb)
	}
	if c := strings.Compare(typeOf(a), typeOf(b)); c != 0 {
		return c
	}
	return strings.Compare(pyfmt.Str(a), pyfmt.Str(b))
}
