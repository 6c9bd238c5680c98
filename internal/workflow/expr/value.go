package expr

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/attune-io/attune/internal/pyfmt"
)

// Normalize converts a value to the kinds expressions work on: nil, bool, int64, float64,
// string, []any and map[string]any. Whole float64 numbers become int64 (JSON decoding
// cannot tell 3 from 3.0, and StackStorm's values print 3), json.Number and other Go
// numbers are converted, typed slices and maps become []any and map[string]any. A value that
// is already normal is returned as is; the engine may normalize the state it loads once, so
// that each expression only walks it.
func Normalize(v any) any { return normal(v) }

const maxNormalDepth = 1000

// result converts an expression's value to the kinds Render returns: like normal, except that
// a float stays a float (Jinja's 4 / 2 is 2.0, printed "2.0").
func result(v any) any {
	switch x := v.(type) {
	case float64:
		return x
	case []any:
		if isNormal(x, 0) {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = result(e)
		}
		return out
	case map[string]any:
		if isNormal(x, 0) {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = result(e)
		}
		return out
	}
	return normal(v)
}

func normal(v any) any {
	if isNormal(v, 0) {
		return v
	}
	return toNormal(v, 0)
}

func isNormal(v any, depth int) bool {
	if depth > maxNormalDepth {
		return true // toNormal would stop here too
	}
	switch x := v.(type) {
	case nil, bool, int64, string:
		return true
	case float64:
		return !wholeFloat(x)
	case []any:
		for _, e := range x {
			if !isNormal(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isNormal(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func wholeFloat(f float64) bool {
	return f == math.Trunc(f) && math.Abs(f) < 1<<53
}

func toNormal(v any, depth int) any {
	if depth > maxNormalDepth {
		return nil
	}
	switch x := v.(type) {
	case nil, bool, int64, string:
		return v
	case float64:
		if wholeFloat(x) {
			return int64(x)
		}
		return x
	case float32:
		return toNormal(float64(x), depth)
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, err := x.Float64()
		if err != nil {
			return string(x)
		}
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toNormal(e, depth+1)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toNormal(e, depth+1)
		}
		return out
	case error:
		return x.Error()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = toNormal(rv.Index(i).Interface(), depth+1)
		}
		return out
	case reflect.Map:
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[pyfmt.Str(toNormal(it.Key().Interface(), depth+1))] = toNormal(it.Value().Interface(), depth+1)
		}
		return out
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return toNormal(rv.Elem().Interface(), depth+1)
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	}
	return pyfmt.Str(v)
}

// cacheSize bounds the parsed expressions an Evaluator keeps.
const cacheSize = 4096

// cache keeps parsed expressions by text, bounded: when full, half of it is dropped.
type cache struct {
	mu  sync.RWMutex
	max int
	m   map[string]any
}

func newCache(max int) *cache { return &cache{max: max, m: map[string]any{}} }

func (c *cache) get(key string) (any, bool) {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	return v, ok
}

func (c *cache) put(key string, v any) {
	if len(key) > 4096 {
		return // long texts are rare and would pin memory
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= c.max/2 {
				break
			}
		}
	}
	c.m[key] = v
	c.mu.Unlock()
}

// stripDelims is Orquesta's strip_delimiter: drop the delimiter characters from both ends,
// then white space.
func stripDelims(expr, delims string) string {
	return strings.TrimSpace(strings.Trim(expr, delims))
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
