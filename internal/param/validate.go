package param

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
)

// Redacted replaces secret values in copies meant for display, logs and stored history.
const Redacted = "********"

// Validate checks params against s and returns a copy with defaults applied for missing or
// null parameters. It reports every violation at once (missing required values, wrong types,
// enum, minimum/maximum, unknown names) in an *Error, so a caller can show them all in one
// round-trip. Messages never echo the offending value, which may be a secret. An empty
// schema accepts any parameters. JSON numbers may arrive as float64 or json.Number; an
// integer must be whole.
func (s Schema) Validate(params map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(params)+len(s))
	maps.Copy(out, params)
	var errs []FieldError
	for name, spec := range s {
		v, ok := params[name]
		switch {
		case (!ok || v == nil) && spec.Default != nil:
			out[name] = clone(spec.Default)
		case !ok || v == nil:
			if spec.Required {
				errs = append(errs, FieldError{Field: name, Message: "is required"})
			}
		default:
			errs = append(errs, spec.check(name, v)...)
		}
	}
	if len(s) > 0 {
		for name := range params {
			if _, ok := s[name]; !ok {
				errs = append(errs, FieldError{Field: name, Message: "is not a known parameter"})
			}
		}
	}
	if len(errs) > 0 {
		return nil, newError(errs)
	}
	return out, nil
}

// check validates a non-nil value against spec, including array items.
func (spec Spec) check(field string, v any) []FieldError {
	if msg := spec.checkType(v); msg != "" {
		return []FieldError{{Field: field, Message: msg}}
	}
	var errs []FieldError
	if len(spec.Enum) > 0 && !slices.ContainsFunc(spec.Enum, func(e any) bool { return equal(e, v) }) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf("must be one of %v", spec.Enum)})
	}
	if f, ok := toFloat(v); ok {
		if spec.Minimum != nil && f < *spec.Minimum {
			errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf("must be at least %g", *spec.Minimum)})
		}
		if spec.Maximum != nil && f > *spec.Maximum {
			errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf("must be at most %g", *spec.Maximum)})
		}
	}
	if len(spec.Properties) > 0 {
		if m, ok := v.(map[string]any); ok {
			for name, sub := range spec.Properties {
				sv, present := m[name]
				switch {
				case (!present || sv == nil) && sub.Required && sub.Default == nil:
					errs = append(errs, FieldError{Field: field + "." + name, Message: "is required"})
				case present && sv != nil:
					errs = append(errs, sub.check(field+"."+name, sv)...)
				}
			}
		}
	}
	if spec.Items != nil {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			for i := range rv.Len() {
				item := rv.Index(i).Interface()
				if item == nil {
					errs = append(errs, FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: "must not be null"})
					continue
				}
				errs = append(errs, spec.Items.check(fmt.Sprintf("%s[%d]", field, i), item)...)
			}
		}
	}
	return errs
}

// checkType returns why v does not have spec's type, or "" when it does.
func (spec Spec) checkType(v any) string {
	switch spec.Type {
	case TypeString:
		if _, ok := v.(string); !ok {
			return "must be a string"
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return "must be a boolean"
		}
	case TypeNumber:
		if f, ok := toFloat(v); !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return "must be a finite number"
		}
	case TypeInteger:
		if !isInteger(v) {
			return "must be an integer"
		}
	case TypeObject:
		if reflect.ValueOf(v).Kind() != reflect.Map {
			return "must be an object"
		}
	case TypeArray:
		if k := reflect.ValueOf(v).Kind(); k != reflect.Slice && k != reflect.Array {
			return "must be an array"
		}
	}
	return ""
}

// isInteger reports whether v is a whole number of any numeric representation.
func isInteger(v any) bool {
	if n, ok := v.(json.Number); ok {
		if _, err := n.Int64(); err == nil {
			return true
		}
	}
	f, ok := toFloat(v)
	return ok && !math.IsInf(f, 0) && f == math.Trunc(f)
}

// toFloat converts any Go numeric value or json.Number to float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case bool, string, nil:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch {
	case rv.CanInt():
		return float64(rv.Int()), true
	case rv.CanUint():
		return float64(rv.Uint()), true
	case rv.CanFloat():
		return rv.Float(), true
	}
	return 0, false
}

// equal compares enum members, treating numbers of different Go types (YAML int, JSON
// float64, json.Number) as equal when their values are.
func equal(a, b any) bool {
	fa, okA := toFloat(a)
	fb, okB := toFloat(b)
	if okA || okB {
		return okA && okB && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// clone deep-copies decoded JSON/YAML containers so a default handed to a caller cannot
// alias (and later mutate) the schema.
func clone(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = clone(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = clone(e)
		}
		return out
	}
	return v
}

// Redact returns a copy of params with every secret parameter that is present replaced by
// Redacted, for storing in history and showing in logs or the UI.
func (s Schema) Redact(params map[string]any) map[string]any {
	out := maps.Clone(params)
	for name, spec := range s {
		if _, ok := out[name]; ok && spec.Secret {
			out[name] = Redacted
		}
	}
	return out
}
