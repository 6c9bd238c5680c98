package pyfmt

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrTooLong is what Dumps returns once its text is longer than
// JSONOptions.Limit.
var ErrTooLong = errors.New("pyfmt: text over the limit")

// JSONOptions are json.dumps's: Indent below 0 is indent=None (one line);
// ItemSep and KeySep are the separators, written as given (Python's
// defaults are ", " and ": " on one line, "," and ": " with an indent).
// Keys are always sorted: Go maps keep no insertion order.
type JSONOptions struct {
	Indent          int
	ItemSep, KeySep string
	// Limit stops the writing with ErrTooLong once the text is longer
	// than Limit bytes; 0 is no limit.
	Limit int
	// Other turns a value that is not nil, a bool, an int, an int64, a
	// float64, a string, a []any or a map[string]any into one that is (as
	// json.dumps's default= does), or refuses it with an error. Nil
	// refuses every such value.
	Other func(v any) (any, error)
}

// Dumps is json.dumps(v, ensure_ascii=True, sort_keys=True) with o's
// indent and separators; NaN and infinities are written as Python does
// (NaN, Infinity, -Infinity).
func Dumps(v any, o JSONOptions) (string, error) {
	var b strings.Builder
	if err := dumps(&b, v, &o, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func dumps(b *strings.Builder, v any, o *JSONOptions, depth int) error {
	if o.Limit > 0 && b.Len() > o.Limit {
		return ErrTooLong
	}
	nl := func(d int) {
		if o.Indent >= 0 {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(" ", o.Indent*d))
		}
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		switch {
		case math.IsNaN(t):
			b.WriteString("NaN")
		case math.IsInf(t, 1):
			b.WriteString("Infinity")
		case math.IsInf(t, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(Float(t))
		}
	case string:
		JSONString(b, t)
	case []any:
		if len(t) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(o.ItemSep)
			}
			nl(depth + 1)
			if err := dumps(b, e, o, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte(']')
	case map[string]any:
		if len(t) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				b.WriteString(o.ItemSep)
			}
			nl(depth + 1)
			JSONString(b, k)
			b.WriteString(o.KeySep)
			if err := dumps(b, t[k], o, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte('}')
	default:
		if o.Other == nil {
			return errors.New("pyfmt: a value of an unknown type")
		}
		w, err := o.Other(v)
		if err != nil {
			return err
		}
		if isJSON(w) {
			return dumps(b, w, o, depth)
		}
		return errors.New("pyfmt: Other gave a value of an unknown type")
	}
	return nil
}

func isJSON(v any) bool {
	switch v.(type) {
	case nil, bool, int, int64, float64, string, []any, map[string]any:
		return true
	}
	return false
}
