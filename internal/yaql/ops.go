package yaql

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// toList returns the elements of a collection. Strings and dictionaries are
// not collections here, as in YAQL.
func toList(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case *ordering:
		return x.items, nil
	}
	return nil, fmt.Errorf("expected a list, got a %s", typeName(v))
}

func (ev *evaluator) operator(op string, l, r any) (any, error) {
	switch op {
	case "=", "!=":
		eq, err := ev.eq(l, r)
		return eq == (op == "="), err
	case "<", ">", "<=", ">=":
		c, err := compare(l, r)
		if err != nil {
			return nil, err
		}
		switch op {
		case "<":
			return c < 0, nil
		case ">":
			return c > 0, nil
		case "<=":
			return c <= 0, nil
		}
		return c >= 0, nil
	case "in":
		return ev.in(l, r)
	case "+":
		return ev.plus(l, r)
	case "-", "*", "/", "mod":
		if op == "*" {
			if v, ok, err := ev.repeat(l, r); ok {
				return v, err
			}
		}
		return arith(op, l, r)
	case "=~", "!~":
		s, ok := l.(string)
		if !ok {
			return nil, fmt.Errorf("%s needs a string on the left, not a %s", op, typeName(l))
		}
		re, err := toRegex(r)
		if err != nil {
			return nil, err
		}
		return re.MatchString(s) == (op == "=~"), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func (ev *evaluator) in(l, r any) (bool, error) {
	switch x := r.(type) {
	case string:
		s, ok := l.(string)
		if !ok {
			return false, fmt.Errorf("'in <string>' needs a string on the left, not a %s", typeName(l))
		}
		return strings.Contains(x, s), nil
	case map[string]any:
		_, ok := x[keyString(l)]
		return ok, nil
	}
	items, err := toList(r)
	if err != nil {
		return false, fmt.Errorf("'in' needs a list on the right, not a %s", typeName(r))
	}
	for _, e := range items {
		if eq, err := ev.eq(l, e); err != nil || eq {
			return eq, err
		}
	}
	return false, nil
}

func (ev *evaluator) plus(l, r any) (any, error) {
	if isNumber(l) && isNumber(r) {
		return arith("+", l, r)
	}
	switch x := l.(type) {
	case string:
		if y, ok := r.(string); ok {
			if err := ev.checkString(len(x) + len(y)); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	case map[string]any:
		if y, ok := r.(map[string]any); ok {
			out := make(map[string]any, len(x)+len(y))
			for k, v := range x {
				out[k] = v
			}
			for k, v := range y {
				out[k] = v
			}
			if err := ev.checkItems(len(out)); err != nil {
				return nil, err
			}
			return out, nil
		}
	case []any, *ordering:
		if _, ok := r.(string); !ok {
			if ys, err := toList(r); err == nil {
				xs, _ := toList(x)
				if err := ev.checkItems(len(xs) + len(ys)); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(xs)+len(ys))
				return append(append(out, xs...), ys...), nil
			}
		}
	}
	return nil, fmt.Errorf("+ is not defined for a %s and a %s", typeName(l), typeName(r))
}

// repeat is string * int and list * int (either order).
func (ev *evaluator) repeat(l, r any) (any, bool, error) {
	n, ok := r.(int64)
	v := l
	if !ok {
		if n, ok = l.(int64); !ok {
			return nil, false, nil
		}
		v = r
	}
	if n < 0 {
		n = 0
	}
	switch x := v.(type) {
	case string:
		if n > 0 && int64(len(x)) > int64(ev.lim.MaxStringLen)/n {
			return nil, true, fmt.Errorf("%w: a string longer than %d bytes", ErrLimit, ev.lim.MaxStringLen)
		}
		return strings.Repeat(x, int(n)), true, nil
	case []any, *ordering:
		xs, _ := toList(x)
		if n > 0 && int64(len(xs)) > int64(ev.lim.MaxItems)/n {
			return nil, true, fmt.Errorf("%w: a collection of more than %d items", ErrLimit, ev.lim.MaxItems)
		}
		if err := ev.checkItems(len(xs) * int(n)); err != nil {
			return nil, true, err
		}
		out := make([]any, 0, len(xs)*int(n))
		for i := int64(0); i < n; i++ {
			out = append(out, xs...)
		}
		return out, true, nil
	}
	return nil, false, nil
}

// arith is + - * / mod on numbers with Python's semantics: integer division
// floors, mod takes the sign of the divisor.
func arith(op string, l, r any) (any, error) {
	if !isNumber(l) || !isNumber(r) {
		return nil, fmt.Errorf("%s is not defined for a %s and a %s", op, typeName(l), typeName(r))
	}
	a, aInt := l.(int64)
	b, bInt := r.(int64)
	if aInt && bInt {
		switch op {
		case "+":
			s := a + b
			if (s > a) != (b > 0) {
				return nil, errors.New("integer overflow")
			}
			return s, nil
		case "-":
			s := a - b
			if (s < a) != (b > 0) {
				return nil, errors.New("integer overflow")
			}
			return s, nil
		case "*":
			if a == 0 || b == 0 {
				return int64(0), nil
			}
			hi, lo := bits.Mul64(uint64(abs64(a)), uint64(abs64(b)))
			if hi != 0 || lo > math.MaxInt64 || a == math.MinInt64 || b == math.MinInt64 {
				return nil, errors.New("integer overflow")
			}
			if (a < 0) != (b < 0) {
				return -int64(lo), nil
			}
			return int64(lo), nil
		case "/", "mod":
			if b == 0 {
				return nil, errors.New("division by zero")
			}
			if a == math.MinInt64 && b == -1 {
				return nil, errors.New("integer overflow")
			}
			q, m := a/b, a%b
			if m != 0 && (m < 0) != (b < 0) {
				q--
				m += b
			}
			if op == "/" {
				return q, nil
			}
			return m, nil
		}
	}
	x, y := toFloat(l), toFloat(r)
	switch op {
	case "+":
		return x + y, nil
	case "-":
		return x - y, nil
	case "*":
		return x * y, nil
	case "/":
		if y == 0 {
			return nil, errors.New("division by zero")
		}
		return x / y, nil
	case "mod":
		if y == 0 {
			return nil, errors.New("division by zero")
		}
		m := math.Mod(x, y)
		if m != 0 && (m < 0) != (y < 0) {
			m += y
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func abs64(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

func toRegex(v any) (*regexp.Regexp, error) {
	switch x := v.(type) {
	case *regexp.Regexp:
		return x, nil
	case string:
		re, err := regexp.Compile(x)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression: %w", err)
		}
		return re, nil
	}
	return nil, fmt.Errorf("expected a regular expression, got a %s", typeName(v))
}

// ordering is the result of orderBy(): sorted items that thenBy() can refine.
type ordering struct {
	src   []any
	keys  []sortKey
	items []any
}

type sortKey struct {
	sel  func(args ...any) (any, error)
	desc bool
}

func (o *ordering) sorted() ([]any, error) { return o.items, nil }

func (ev *evaluator) order(src []any, keys []sortKey) (*ordering, error) {
	if err := ev.charge(len(src) * len(keys)); err != nil {
		return nil, err
	}
	vals := make([][]any, len(src))
	for i, e := range src {
		vals[i] = make([]any, len(keys))
		for j, k := range keys {
			v, err := k.sel(e)
			if err != nil {
				return nil, err
			}
			vals[i][j] = v
		}
	}
	idx := make([]int, len(src))
	for i := range idx {
		idx[i] = i
	}
	var cmpErr error
	sort.SliceStable(idx, func(a, b int) bool {
		for j, k := range keys {
			c, err := compare(vals[idx[a]][j], vals[idx[b]][j])
			if err != nil {
				cmpErr = err
				return false
			}
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
	if cmpErr != nil {
		return nil, cmpErr
	}
	items := make([]any, len(src))
	for i, j := range idx {
		items[i] = src[j]
	}
	return &ordering{src: src, keys: keys, items: items}, nil
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }
