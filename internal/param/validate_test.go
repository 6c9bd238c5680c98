package param

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	schema := Schema{
		"name":    {Type: TypeString, Required: true},
		"count":   {Type: TypeInteger, Default: 3, Minimum: ptr(1), Maximum: ptr(10)},
		"ratio":   {Type: TypeNumber},
		"verbose": {Type: TypeBoolean},
		"level":   {Type: TypeString, Enum: []any{"info", "warn"}},
		"code":    {Type: TypeInteger, Enum: []any{200, 404}},
		"opts":    {Type: TypeObject, Default: map[string]any{"a": []any{1}}},
		"hosts":   {Type: TypeArray, Items: &Spec{Type: TypeString}},
		"extra":   {Type: TypeAny},
	}
	tests := []struct {
		name    string
		in      map[string]any
		want    map[string]any
		wantErr []FieldError
	}{
		{
			name: "defaults for missing and null",
			in:   map[string]any{"name": "x", "count": nil},
			want: map[string]any{"name": "x", "count": 3, "opts": map[string]any{"a": []any{1}}},
		},
		{
			name: "null without default is kept",
			in:   map[string]any{"name": "x", "ratio": nil},
			want: map[string]any{"name": "x", "count": 3, "ratio": nil, "opts": map[string]any{"a": []any{1}}},
		},
		{
			name: "all types accepted",
			in: map[string]any{
				"name": "x", "count": float64(4), "ratio": json.Number("0.5"), "verbose": true,
				"level": "warn", "code": float64(404), "opts": map[string]string{"k": "v"},
				"hosts": []string{"a", "b"}, "extra": []any{nil},
			},
			want: map[string]any{
				"name": "x", "count": float64(4), "ratio": json.Number("0.5"), "verbose": true,
				"level": "warn", "code": float64(404), "opts": map[string]string{"k": "v"},
				"hosts": []string{"a", "b"}, "extra": []any{nil},
			},
		},
		{
			name: "integer forms",
			in:   map[string]any{"name": "x", "count": json.Number("5"), "code": json.Number("2e2")},
			want: map[string]any{"name": "x", "count": json.Number("5"), "code": json.Number("2e2"), "opts": map[string]any{"a": []any{1}}},
		},
		{
			name: "every violation reported",
			in: map[string]any{
				"count": 2.5, "ratio": "1", "verbose": "true", "level": "debug", "code": 500,
				"opts": []any{}, "hosts": []any{"a", 1, nil}, "bogus": 1,
			},
			wantErr: []FieldError{
				{Field: "bogus", Message: "is not a known parameter"},
				{Field: "code", Message: "must be one of [200 404]"},
				{Field: "count", Message: "must be an integer"},
				{Field: "hosts[1]", Message: "must be a string"},
				{Field: "hosts[2]", Message: "must not be null"},
				{Field: "level", Message: "must be one of [info warn]"},
				{Field: "name", Message: "is required"},
				{Field: "opts", Message: "must be an object"},
				{Field: "ratio", Message: "must be a finite number"},
				{Field: "verbose", Message: "must be a boolean"},
			},
		},
		{
			name: "bounds",
			in:   map[string]any{"name": "x", "count": int64(11)},
			wantErr: []FieldError{
				{Field: "count", Message: "must be at most 10"},
			},
		},
		{
			name:    "lower bound with json number",
			in:      map[string]any{"name": "x", "count": json.Number("0")},
			wantErr: []FieldError{{Field: "count", Message: "must be at least 1"}},
		},
		{
			name:    "non-finite numbers",
			in:      map[string]any{"name": "x", "ratio": math.Inf(1), "count": math.NaN()},
			wantErr: []FieldError{{Field: "count", Message: "must be an integer"}, {Field: "ratio", Message: "must be a finite number"}},
		},
		{
			name:    "malformed json number",
			in:      map[string]any{"name": "x", "count": json.Number("abc")},
			wantErr: []FieldError{{Field: "count", Message: "must be an integer"}},
		},
		{
			name:    "string is not an array",
			in:      map[string]any{"name": "x", "hosts": "a"},
			wantErr: []FieldError{{Field: "hosts", Message: "must be an array"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := schema.Validate(tt.in)
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

func TestValidateEmptySchemaAcceptsAnything(t *testing.T) {
	t.Parallel()
	for _, s := range []Schema{nil, {}} {
		got, err := s.Validate(map[string]any{"anything": []any{1}})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"anything": []any{1}}, got)
	}
}

func TestValidateDoesNotAlias(t *testing.T) {
	t.Parallel()
	s := Schema{"opts": {Type: TypeObject, Default: map[string]any{"k": []any{"v"}}}, "n": {Type: TypeInteger}}
	in := map[string]any{"n": 1}
	got, err := s.Validate(in)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"n": 1}, in, "input must not be modified")
	got["opts"].(map[string]any)["k"].([]any)[0] = "changed"
	require.Equal(t, map[string]any{"k": []any{"v"}}, s["opts"].Default, "schema default must not be aliased")
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	_, err := Schema{"a": {Type: TypeString, Required: true}, "b": {Type: TypeBoolean}}.Validate(map[string]any{"b": 1})
	require.EqualError(t, err, "a: is required; b: must be a boolean")
	_, err = ParseSchema("x")
	require.EqualError(t, err, "schema must be a mapping of parameter names to specs")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	s := Schema{"token": {Type: TypeString, Secret: true}, "password": {Secret: true}, "user": {Type: TypeString}}
	in := map[string]any{"token": "abc", "user": "bob"}
	require.Equal(t, map[string]any{"token": Redacted, "user": "bob"}, s.Redact(in))
	require.Equal(t, "abc", in["token"], "input must not be modified")
	require.Nil(t, s.Redact(nil))
}

func TestValidateMessagesDoNotLeakValues(t *testing.T) {
	t.Parallel()
	s := Schema{"token": {Type: TypeInteger, Secret: true, Enum: []any{1}}}
	_, err := s.Validate(map[string]any{"token": "hunter2", "other": "hunter2"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2")
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"n":{"type":"integer","default":1,"minimum":0}}`), []byte(`{"n":2}`))
	f.Add([]byte(`{"a":{"type":"array","items":{"type":"string"}}}`), []byte(`{"a":["x",null,3]}`))
	f.Add([]byte(`{"type":"object","required":["x"],"properties":{"x":{"enum":[1,"a"]}}}`), []byte(`{"x":1.0}`))
	f.Add([]byte(`{}`), []byte(`{"x":{"y":[1e400]}}`))
	f.Add([]byte(`{"s":{"type":"string","secret":true}}`), []byte(`{"s":null}`))
	f.Fuzz(func(t *testing.T, schemaJSON, paramsJSON []byte) {
		var raw any
		if json.Unmarshal(schemaJSON, &raw) != nil {
			return
		}
		schema, err := ParseSchema(raw)
		if err != nil {
			return
		}
		var params map[string]any
		dec := json.NewDecoder(bytes.NewReader(paramsJSON))
		dec.UseNumber()
		if dec.Decode(&params) != nil {
			return
		}
		_ = schema.Redact(params)
		out, err := schema.Validate(params)
		if err != nil {
			var perr *Error
			require.ErrorAs(t, err, &perr)
			require.NotEmpty(t, perr.Fields)
			return
		}
		again, err := schema.Validate(out)
		require.NoError(t, err, "validated output with defaults must validate again")
		require.Equal(t, out, again)
	})
}
