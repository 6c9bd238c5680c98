// Package param describes action, trigger and pack-config parameters and validates values
// against them. Schemas use the flat StackStorm form (`name: {type, default, required, …}`),
// which is what pack YAML and the database store; the JSON-Schema object form is accepted on
// input and converted, so packs written either way end up with one representation.
package param

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parameter types a Spec may declare. TypeAny accepts every value and is what a spec without
// a type means, so loosely written StackStorm packs still load.
const (
	TypeString  = "string"
	TypeInteger = "integer"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeObject  = "object"
	TypeArray   = "array"
	TypeAny     = "any"
)

// Spec describes one parameter. Field names and JSON/YAML keys follow the flat StackStorm
// form so a Schema marshals to exactly what a pack author writes.
type Spec struct {
	Type        string   `json:"type"                  yaml:"type"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Default     any      `json:"default,omitempty"     yaml:"default,omitempty"`
	Required    bool     `json:"required,omitempty"    yaml:"required,omitempty"`
	Enum        []any    `json:"enum,omitempty"        yaml:"enum,omitempty"`
	Secret      bool     `json:"secret,omitempty"      yaml:"secret,omitempty"`
	Minimum     *float64 `json:"minimum,omitempty"     yaml:"minimum,omitempty"`
	Maximum     *float64 `json:"maximum,omitempty"     yaml:"maximum,omitempty"`
	Items       *Spec    `json:"items,omitempty"       yaml:"items,omitempty"`
	// Properties are the fields of an object, as StackStorm's pack config
	// schemas nest them; other fields of the object are allowed.
	Properties Schema `json:"properties,omitempty" yaml:"properties,omitempty"`
	// Position places the parameter in a StackStorm shell script's argv
	// (0-based); nil for named parameters.
	Position *int `json:"position,omitempty" yaml:"position,omitempty"`
	// Immutable parameters keep their default: a value given at run time is refused.
	Immutable bool `json:"immutable,omitempty" yaml:"immutable,omitempty"`
}

// Schema maps parameter names to their specs. An empty schema accepts any parameters, which
// is how actions without declared parameters behave. Encoding/json sorts map keys, so the
// JSON form is stable; decoding (JSON or YAML) goes through ParseSchema and so accepts both
// input forms and rejects invalid specs.
type Schema map[string]Spec

// ParseSchema builds a Schema from decoded YAML or JSON: either the flat form
// `{name: {type, …}}` or a JSON-Schema object `{type: object, properties: {…}, required: […]}`.
// nil yields an empty schema. Every problem is reported in one *Error, keyed by parameter
// name (nested item specs as "name.items").
func ParseSchema(v any) (Schema, error) {
	if v == nil {
		return Schema{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Fields: []FieldError{{Message: "schema must be a mapping of parameter names to specs"}}}
	}
	var errs []FieldError
	required := map[string]bool{}
	if isJSONSchema(m) {
		if t, _ := m["type"].(string); t != "" && t != TypeObject {
			errs = append(errs, FieldError{Field: "type", Message: `a JSON Schema must have type "object"`})
		}
		for _, name := range stringList(m["required"]) {
			required[name] = true
		}
		if m["properties"] == nil {
			m = map[string]any{}
		} else if m, ok = m["properties"].(map[string]any); !ok {
			return nil, &Error{Fields: append(errs, FieldError{Field: "properties", Message: "must be a mapping"})}
		}
	}
	s := make(Schema, len(m))
	for name, raw := range m {
		spec, specErrs := parseSpec(name, raw)
		errs = append(errs, specErrs...)
		spec.Required = spec.Required || required[name]
		s[name] = spec
	}
	for name := range required {
		if _, ok := s[name]; !ok {
			errs = append(errs, FieldError{Field: name, Message: "is listed as required but has no property"})
		}
	}
	if len(errs) > 0 {
		return nil, newError(errs)
	}
	return s, nil
}

// isJSONSchema reports whether m is a JSON-Schema object rather than a flat schema. In the
// flat form every value is a spec mapping, so a string `type` or a `$schema` key cannot be a
// parameter; a `properties` mapping counts unless it is itself a flat spec with a string type.
func isJSONSchema(m map[string]any) bool {
	if _, ok := m["type"].(string); ok {
		return true
	}
	if _, ok := m["$schema"]; ok {
		return true
	}
	props, ok := m["properties"].(map[string]any)
	if !ok {
		return false
	}
	_, isSpec := props["type"].(string)
	return !isSpec
}

// stringList returns the strings of a []any, skipping anything else.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// parseSpec converts one decoded spec mapping, reporting problems under field.
func parseSpec(field string, raw any) (Spec, []FieldError) {
	var errs []FieldError
	fail := func(format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if field == "" {
		fail("parameter name must not be empty")
	}
	if raw == nil {
		return Spec{Type: TypeAny}, errs
	}
	m, ok := raw.(map[string]any)
	if !ok {
		fail("spec must be a mapping such as {type: string}")
		return Spec{Type: TypeAny}, errs
	}
	spec := Spec{Type: TypeAny}
	if v, ok := m["type"]; ok && v != nil {
		t, isString := v.(string)
		switch {
		case !isString:
			fail("type must be a string")
		case !knownType(t):
			fail("unknown type %q (want string, integer, number, boolean, object, array or any)", t)
		default:
			spec.Type = t
		}
	}
	spec.Description = optional[string](m, "description", fail)
	spec.Secret = optional[bool](m, "secret", fail)
	// A list-valued `required` is JSON Schema's nested-object form, which Spec does not model.
	if _, nested := m["required"].([]any); !nested {
		spec.Required = optional[bool](m, "required", fail)
	}
	spec.Immutable = optional[bool](m, "immutable", fail)
	if v, ok := m["position"]; ok && v != nil {
		if f, isNum := toFloat(v); !isNum || f < 0 || f != math.Trunc(f) {
			fail("position must be a non-negative integer")
		} else {
			pos := int(f)
			spec.Position = &pos
		}
	}
	spec.Minimum = bound(m, "minimum", fail)
	spec.Maximum = bound(m, "maximum", fail)
	if spec.Minimum != nil && spec.Maximum != nil && *spec.Minimum > *spec.Maximum {
		fail("minimum %g is greater than maximum %g", *spec.Minimum, *spec.Maximum)
	}
	if v, ok := m["enum"]; ok && v != nil {
		list, isList := v.([]any)
		if !isList || len(list) == 0 {
			fail("enum must be a non-empty list")
		}
		spec.Enum = list
	}
	if v, ok := m["items"]; ok && v != nil {
		if spec.Type != TypeArray && spec.Type != TypeAny {
			fail("items only applies to type array")
		}
		items, itemErrs := parseSpec(field+".items", v)
		errs = append(errs, itemErrs...)
		spec.Items = &items
	}
	if v, ok := m["properties"]; ok && v != nil {
		props, isMap := v.(map[string]any)
		switch {
		case spec.Type != TypeObject && spec.Type != TypeAny:
			fail("properties only applies to type object")
		case !isMap:
			fail("properties must be a mapping of field names to specs")
		default:
			spec.Properties = Schema{}
			required := map[string]bool{}
			for _, name := range stringList(m["required"]) {
				required[name] = true
			}
			for name, raw := range props {
				sub, subErrs := parseSpec(field+"."+name, raw)
				errs = append(errs, subErrs...)
				sub.Required = sub.Required || required[name]
				spec.Properties[name] = sub
			}
		}
	}
	if len(errs) > 0 {
		return spec, errs
	}
	for _, e := range spec.Enum {
		if msg := spec.checkType(e); msg != "" {
			fail("enum value %v: %s", e, msg)
		}
	}
	if d, ok := m["default"]; ok && d != nil {
		spec.Default = d
		if IsTemplate(d) {
			// A Jinja default is rendered at run time, then checked.
			return spec, errs
		}
		for _, fe := range spec.check(field, d) {
			fail("default %s", fe.Message)
		}
	}
	return spec, errs
}

// optional reads key from m as a T, reporting a wrong type through fail.
func optional[T any](m map[string]any, key string, fail func(string, ...any)) T {
	var zero T
	v, ok := m[key]
	if !ok || v == nil {
		return zero
	}
	t, ok := v.(T)
	if !ok {
		fail("%s must be a %T", key, zero)
	}
	return t
}

// bound reads a numeric minimum or maximum from m.
func bound(m map[string]any, key string, fail func(string, ...any)) *float64 {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		fail("%s must be a finite number", key)
		return nil
	}
	return &f
}

// knownType reports whether t is one of the supported parameter types.
func knownType(t string) bool {
	switch t {
	case TypeString, TypeInteger, TypeNumber, TypeBoolean, TypeObject, TypeArray, TypeAny:
		return true
	}
	return false
}

// UnmarshalJSON parses either schema form through ParseSchema so stored and submitted
// schemas are validated the same way as pack YAML.
func (s *Schema) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("decoding schema: %w", err)
	}
	return s.set(v)
}

// UnmarshalYAML parses either schema form through ParseSchema, like UnmarshalJSON.
func (s *Schema) UnmarshalYAML(n *yaml.Node) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return fmt.Errorf("decoding schema: %w", err)
	}
	return s.set(v)
}

// set replaces s with the parsed form of v.
func (s *Schema) set(v any) error {
	parsed, err := ParseSchema(v)
	if err != nil {
		return fmt.Errorf("parsing schema: %w", err)
	}
	*s = parsed
	return nil
}

// SecretNames lists the secret parameters in sorted order, so callers can tell which values
// to keep out of logs, events and environment variables.
func (s Schema) SecretNames() []string {
	var names []string
	for name, spec := range s {
		if spec.Secret {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// IsTemplate reports whether v is a string holding a Jinja expression or
// statement, as StackStorm defaults such as "ping -c {{ count }}" are.
func IsTemplate(v any) bool {
	s, ok := v.(string)
	return ok && (strings.Contains(s, "{{") || strings.Contains(s, "{%"))
}

// Without returns the specs of s whose names are not in other.
func (s Schema) Without(other Schema) Schema {
	out := Schema{}
	for name, spec := range s {
		if _, ok := other[name]; !ok {
			out[name] = spec
		}
	}
	return out
}
