package yaql

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/attune-io/attune/internal/pyfmt"
)

// Normalize converts a Go value into the value kinds the evaluator works on:
// nil, bool, int64, float64, string, []any and map[string]any. Other integer
// and float kinds, json.Number and typed slices and maps are converted; a
// value that is already normal is returned as is, without copying.
func Normalize(v any) (any, error) {
	bud := budget{left: math.MaxInt}
	if isNormal(v, 0, &bud) {
		return v, nil
	}
	return normalize(v, 0)
}

const maxNormalizeDepth = 10000

func isNormal(v any, depth int, bud *budget) bool {
	if depth > maxNormalizeDepth || !bud.take() {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, *regexp.Regexp, *Context, *ordering:
		return true
	case []any:
		for _, e := range x {
			if !isNormal(e, depth+1, bud) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isNormal(e, depth+1, bud) {
				return false
			}
		}
		return true
	}
	return false
}

func normalize(v any, depth int) (any, error) {
	if depth > maxNormalizeDepth {
		return nil, fmt.Errorf("value nested deeper than %d", maxNormalizeDepth)
	}
	switch x := v.(type) {
	case nil, bool, int64, string, *regexp.Regexp, *Context, *ordering:
		return v, nil
	case float64:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("bad number %q", string(x))
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalize(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return normalize(rv.Elem().Interface(), depth+1)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalize(rv.Index(i).Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			k, err := normalize(it.Key().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			e, err := normalize(it.Value().Interface(), depth+1)
			if err != nil {
				return nil, err
			}
			out[keyString(k)] = e
		}
		return out, nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	}
	return nil, fmt.Errorf("unsupported value of Go type %T", v)
}

// keyString is the dictionary key for a value: strings stay themselves,
// other values use their YAQL string form.
func keyString(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return yaqlStr(k)
}

// typeName names a value's kind in error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "float"
	case string:
		return "string"
	case []any, *ordering:
		return "list"
	case map[string]any:
		return "dictionary"
	case *regexp.Regexp:
		return "regex"
	case *Context:
		return "context"
	}
	return fmt.Sprintf("%T", v)
}

func isNumber(v any) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

// truthy is Python's truth value: null, false, 0, "" and empty collections are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case *ordering:
		return len(x.items) > 0
	}
	return true
}

// budget bounds the work of a deep walk over values, which may share
// sub-values and so be far larger as trees than in memory.
type budget struct{ left int }

func (b *budget) take() bool {
	b.left--
	return b.left >= 0
}

// equal is YAQL's "=": deep, numbers compare by value.
func equal(a, b any) bool {
	bud := budget{left: math.MaxInt}
	return equalB(a, b, &bud)
}

func equalB(a, b any, bud *budget) bool {
	if !bud.take() {
		return false
	}
	if oa, ok := a.(*ordering); ok {
		a = oa.items
	}
	if ob, ok := b.(*ordering); ok {
		b = ob.items
	}
	// Python's True == 1 and False == 0 hold in YAQL too.
	if x, ok := a.(bool); ok && isNumber(b) {
		a = boolNum(x)
	}
	if y, ok := b.(bool); ok && isNumber(a) {
		b = boolNum(y)
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalB(x[i], y[i], bud) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalB(xv, yv, bud) {
				return false
			}
		}
		return true
	case *regexp.Regexp:
		y, ok := b.(*regexp.Regexp)
		return ok && x.String() == y.String()
	}
	return a == b
}

// compare orders two values as YAQL's < and > do: numbers with numbers,
// strings with strings, null below everything else.
func compare(a, b any) (int, error) {
	switch {
	case a == nil && b == nil:
		return 0, nil
	case a == nil:
		return -1, nil
	case b == nil:
		return 1, nil
	}
	if isNumber(a) && isNumber(b) {
		if x, ok := a.(int64); ok {
			if y, ok := b.(int64); ok {
				switch {
				case x < y:
					return -1, nil
				case x > y:
					return 1, nil
				}
				return 0, nil
			}
		}
		x, y := toFloat(a), toFloat(b)
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	}
	if x, ok := a.(bool); ok {
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0, nil
			case !x:
				return -1, nil
			}
			return 1, nil
		}
	}
	return 0, fmt.Errorf("cannot compare %s with %s", typeName(a), typeName(b))
}

// sortedKeys lists a dictionary's keys in order: Go maps keep no insertion
// order, so YAQL's keys(), values() and items() list keys sorted.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// yaqlStr is YAQL's str(): null, true and false in YAQL spelling, other
// values as Python prints them.
func yaqlStr(v any) string {
	s, _ := yaqlStrLimit(v, 0)
	return s
}

func yaqlStrLimit(v any, limit int) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	}
	return pyStrLimit(v, limit)
}

// pyStr is Python's str(), which Orquesta uses to put a value into text.
func pyStr(v any) string {
	s, _ := pyStrLimit(v, 0)
	return s
}

// pyStrLimit is pyStr that stops once the text is longer than limit bytes
// (0: no limit) and then reports ErrLimit.
func pyStrLimit(v any, limit int) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	var b strings.Builder
	pyRepr(&b, v, limit)
	if limit > 0 && b.Len() > limit {
		return "", fmt.Errorf("%w: a string longer than %d bytes", ErrLimit, limit)
	}
	return b.String(), nil
}

// pyRepr writes Python's repr() of v, or stops early once b is longer
// than limit bytes (0: no limit).
func pyRepr(b *strings.Builder, v any, limit int) {
	var leaf pyfmt.Leaf
	leaf = func(b *strings.Builder, v any) bool {
		if limit > 0 && b.Len() > limit {
			return true
		}
		switch x := v.(type) {
		case *ordering:
			pyfmt.Repr(b, x.items, leaf)
		case *regexp.Regexp:
			b.WriteString("re.compile(" + pyfmt.Quote(x.String()) + ")")
		case *Context:
			b.WriteString("<context>")
		default:
			return false
		}
		return true
	}
	pyfmt.Repr(b, v, leaf)
}

func sortStrings(s []string) { sort.Strings(s) }

// short is a value written for an error message, at most about 100 bytes.
func short(v any) string {
	s, err := pyStrLimit(v, 100)
	if err != nil {
		return "(a large " + typeName(v) + ")"
	}
	return s
}

func boolNum(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
