package param

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func ptr(f float64) *float64 { return &f }

func TestParseSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      any
		want    Schema
		wantErr []FieldError
	}{
		{name: "nil is empty", in: nil, want: Schema{}},
		{
			name: "flat form",
			in: map[string]any{
				"name":  map[string]any{"type": "string", "required": true, "description": "who"},
				"token": map[string]any{"type": "string", "secret": true},
				"count": map[string]any{"type": "integer", "default": 3, "minimum": 1, "maximum": 10},
				"level": map[string]any{"type": "string", "enum": []any{"info", "warn"}, "default": "info"},
				"tags":  map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			},
			want: Schema{
				"name":  {Type: TypeString, Required: true, Description: "who"},
				"token": {Type: TypeString, Secret: true},
				"count": {Type: TypeInteger, Default: 3, Minimum: ptr(1), Maximum: ptr(10)},
				"level": {Type: TypeString, Enum: []any{"info", "warn"}, Default: "info"},
				"tags":  {Type: TypeArray, Items: &Spec{Type: TypeString}},
			},
		},
		{
			name: "missing type means any",
			in:   map[string]any{"cmd": map[string]any{"default": "ls"}, "sudo": nil},
			want: Schema{"cmd": {Type: TypeAny, Default: "ls"}, "sudo": {Type: TypeAny}},
		},
		{
			name: "JSON Schema form",
			in: map[string]any{
				"type":     "object",
				"required": []any{"url"},
				"properties": map[string]any{
					"url":     map[string]any{"type": "string", "format": "uri"},
					"retries": map[string]any{"type": "integer", "default": 2},
					"headers": map[string]any{"type": "object", "required": []any{"x"}},
				},
			},
			want: Schema{
				"url":     {Type: TypeString, Required: true},
				"retries": {Type: TypeInteger, Default: 2},
				"headers": {Type: TypeObject},
			},
		},
		{
			name: "JSON Schema detected by properties alone",
			in:   map[string]any{"properties": map[string]any{"a": map[string]any{"type": "boolean"}}},
			want: Schema{"a": {Type: TypeBoolean}},
		},
		{
			name: "JSON Schema without properties",
			in:   map[string]any{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"},
			want: Schema{},
		},
		{
			name: "flat parameter called properties",
			in:   map[string]any{"properties": map[string]any{"type": "object"}},
			want: Schema{"properties": {Type: TypeObject}},
		},
		{
			name:    "not a mapping",
			in:      []any{"a"},
			wantErr: []FieldError{{Message: "schema must be a mapping of parameter names to specs"}},
		},
		{
			name:    "JSON Schema of wrong type",
			in:      map[string]any{"type": "array"},
			wantErr: []FieldError{{Field: "type", Message: `a JSON Schema must have type "object"`}},
		},
		{
			name:    "JSON Schema properties not a mapping",
			in:      map[string]any{"type": "object", "properties": "x"},
			wantErr: []FieldError{{Field: "properties", Message: "must be a mapping"}},
		},
		{
			name:    "JSON Schema required without property",
			in:      map[string]any{"type": "object", "required": []any{"ghost"}, "properties": map[string]any{}},
			wantErr: []FieldError{{Field: "ghost", Message: "is listed as required but has no property"}},
		},
		{
			name: "every problem reported",
			in: map[string]any{
				"a": map[string]any{"type": "str"},
				"b": map[string]any{"type": 5},
				"c": "string",
				"d": map[string]any{"type": "integer", "default": 1.5},
				"e": map[string]any{"type": "string", "enum": []any{"x"}, "default": "y"},
				"f": map[string]any{"type": "string", "enum": []any{"x", 2}},
				"g": map[string]any{"type": "number", "minimum": 5, "maximum": 1},
				"h": map[string]any{"type": "string", "items": map[string]any{"type": "string"}},
				"i": map[string]any{"type": "array", "items": map[string]any{"type": "nope"}},
				"j": map[string]any{"description": 3, "secret": "yes", "required": "no"},
				"k": map[string]any{"enum": []any{}},
				"l": map[string]any{"minimum": "low"},
				"m": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}, "default": []any{1, "x"}},
				"":  map[string]any{"type": "string"},
			},
			wantErr: []FieldError{
				{Field: "", Message: "parameter name must not be empty"},
				{Field: "a", Message: `unknown type "str" (want string, integer, number, boolean, object, array or any)`},
				{Field: "b", Message: "type must be a string"},
				{Field: "c", Message: "spec must be a mapping such as {type: string}"},
				{Field: "d", Message: "default must be an integer"},
				{Field: "e", Message: "default must be one of [x]"},
				{Field: "f", Message: "enum value 2: must be a string"},
				{Field: "g", Message: "minimum 5 is greater than maximum 1"},
				{Field: "h", Message: "items only applies to type array"},
				{Field: "i.items", Message: `unknown type "nope" (want string, integer, number, boolean, object, array or any)`},
				{Field: "j", Message: "description must be a string"},
				{Field: "j", Message: "required must be a bool"},
				{Field: "j", Message: "secret must be a bool"},
				{Field: "k", Message: "enum must be a non-empty list"},
				{Field: "l", Message: "minimum must be a finite number"},
				{Field: "m", Message: "default must be an integer"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSchema(tt.in)
			if tt.wantErr != nil {
				var perr *Error
				require.ErrorAs(t, err, &perr)
				require.Equal(t, tt.wantErr, perr.Fields)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSchemaJSON(t *testing.T) {
	t.Parallel()
	s := Schema{
		"b": {Type: TypeInteger, Default: 2, Minimum: ptr(0)},
		"a": {Type: TypeString, Required: true, Secret: true, Enum: []any{"x", "y"}},
		"c": {Type: TypeArray, Items: &Spec{Type: TypeAny}},
	}
	data, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"a": {"type": "string", "required": true, "secret": true, "enum": ["x", "y"]},
		"b": {"type": "integer", "default": 2, "minimum": 0},
		"c": {"type": "array", "items": {"type": "any"}}
	}`, string(data))
	again, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, string(data), string(again), "marshalling must be stable")

	var back Schema
	require.NoError(t, json.Unmarshal(data, &back))
	require.Equal(t, Schema{
		"b": {Type: TypeInteger, Default: float64(2), Minimum: ptr(0)},
		"a": {Type: TypeString, Required: true, Secret: true, Enum: []any{"x", "y"}},
		"c": {Type: TypeArray, Items: &Spec{Type: TypeAny}},
	}, back)

	var fromJSONSchema Schema
	require.NoError(t, json.Unmarshal([]byte(`{"type":"object","required":["x"],"properties":{"x":{"type":"number"}}}`), &fromJSONSchema))
	require.Equal(t, Schema{"x": {Type: TypeNumber, Required: true}}, fromJSONSchema)

	var bad Schema
	require.ErrorContains(t, json.Unmarshal([]byte(`{"x":{"type":"float"}}`), &bad), `x: unknown type "float"`)
	require.Error(t, json.Unmarshal([]byte(`{"x":`), &bad))
}

func TestSchemaYAML(t *testing.T) {
	t.Parallel()
	var doc struct {
		Parameters Schema `yaml:"parameters"`
	}
	require.NoError(t, yaml.Unmarshal([]byte("parameters:\n  count: {type: integer, default: 1, required: true}\n"), &doc))
	require.Equal(t, Schema{"count": {Type: TypeInteger, Default: 1, Required: true}}, doc.Parameters)

	out, err := yaml.Marshal(doc)
	require.NoError(t, err)
	require.Equal(t, "parameters:\n    count:\n        type: integer\n        default: 1\n        required: true\n", string(out))

	require.ErrorContains(t, yaml.Unmarshal([]byte("parameters: {n: {type: int}}"), &doc), `n: unknown type "int"`)
	require.Error(t, yaml.Unmarshal([]byte("parameters: {n: {type: [}"), &doc))
}

func TestSecretNames(t *testing.T) {
	t.Parallel()
	s := Schema{"z": {Secret: true}, "a": {Secret: true}, "m": {Type: TypeString}}
	require.Equal(t, []string{"a", "z"}, s.SecretNames())
	require.Empty(t, Schema{}.SecretNames())
}
