package inproc

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// number reads a JSON number however it was decoded.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// str reads a string parameter; absent and null are "".
func str(params map[string]any, name string) string {
	switch v := params[name].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return text(v)
	}
}

// boolean reads a boolean parameter with a default.
func boolean(params map[string]any, name string, def bool) bool {
	switch v := params[name].(type) {
	case bool:
		return v
	case string:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return def
}

// stringMap reads an object parameter of string values (headers, env…);
// other values are written as text.
func stringMap(v any) map[string]string {
	m, _ := v.(map[string]any)
	out := make(map[string]string, len(m))
	for k, val := range m {
		out[k] = text(val)
	}
	return out
}

// stringList reads an array parameter of strings.
func stringList(v any) []string {
	var out []string
	switch l := v.(type) {
	case []any:
		for _, s := range l {
			out = append(out, text(s))
		}
	case []string:
		out = l
	}
	return out
}

// text writes a value as a script or header sees it: strings as they are,
// whole numbers without a fraction, booleans as true/false, the rest as
// JSON.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case int, int64:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// sortedKeys returns m's keys in order, for stable command lines.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// decodeJSON is StackStorm's "best effort" transform of stdout and stderr:
// a stream that is one JSON document becomes that value.
func decodeJSON(s string) any {
	t := strings.TrimSpace(s)
	if t == "" {
		return s
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(t))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	return v
}
