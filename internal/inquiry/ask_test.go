package inquiry

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/param"
)

// decode is a JSON document as the API hands it over: numbers as float64.
func decode(t testing.TB, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m), doc)
	return m
}

func TestParseQuestion(t *testing.T) {
	t.Parallel()
	approve := map[string]any{
		"type": "object", "description": "Deploy to production?",
		"properties": map[string]any{"approved": map[string]any{"type": "boolean", "required": true}},
	}
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   Question
	}{
		{
			name:   "defaults are StackStorm's",
			params: nil,
			want:   Question{Schema: defaultSchema(), TTL: 1440},
		},
		{
			name:   "empty parameters",
			params: map[string]any{},
			want:   Question{Schema: defaultSchema(), TTL: DefaultTTL},
		},
		{
			name: "every parameter",
			params: decode(t, `{"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
				"users": ["alice", "bob"], "roles": ["operator"], "route": "ops", "ttl": 30, "prompt": "Go?"}`),
			want: Question{
				Prompt: "Go?",
				Schema: map[string]any{"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}}},
				Users:  []string{"alice", "bob"}, Roles: []string{"OPERATOR"}, Route: "ops", TTL: 30,
			},
		},
		{
			name:   "fractional ttl",
			params: map[string]any{"ttl": 0.5},
			want:   Question{Schema: defaultSchema(), TTL: 0.5},
		},
		{
			name:   "integer ttl from Go callers",
			params: map[string]any{"ttl": 15},
			want:   Question{Schema: defaultSchema(), TTL: 15},
		},
		{
			name:   "int64 ttl",
			params: map[string]any{"ttl": int64(2)},
			want:   Question{Schema: defaultSchema(), TTL: 2},
		},
		{
			name:   "roles are upper-cased",
			params: map[string]any{"roles": []any{"admin", "Editor", "VIEWER", "ops-team"}},
			want:   Question{Schema: defaultSchema(), TTL: DefaultTTL, Roles: []string{"ADMIN", "EDITOR", "VIEWER", "OPS-TEAM"}},
		},
		{
			name:   "a []string from Go callers",
			params: map[string]any{"users": []string{"carol"}, "roles": []string{"editor"}},
			want:   Question{Schema: defaultSchema(), TTL: DefaultTTL, Users: []string{"carol"}, Roles: []string{"EDITOR"}},
		},
		{
			name:   "empty lists",
			params: map[string]any{"users": []any{}, "roles": []any{}},
			want:   Question{Schema: defaultSchema(), TTL: DefaultTTL, Users: []string{}, Roles: []string{}},
		},
		{
			name:   "prompt from the prompt parameter before the schema's description",
			params: map[string]any{"prompt": "Really?", "schema": approve},
			want:   Question{Prompt: "Really?", Schema: approve, TTL: DefaultTTL},
		},
		{
			name:   "prompt from the schema's description",
			params: map[string]any{"schema": approve},
			want:   Question{Prompt: "Deploy to production?", Schema: approve, TTL: DefaultTTL},
		},
		{
			name:   "an empty prompt falls back to the schema",
			params: map[string]any{"prompt": "", "schema": approve},
			want:   Question{Prompt: "Deploy to production?", Schema: approve, TTL: DefaultTTL},
		},
		{
			name:   "prompt from the schema's title",
			params: decode(t, `{"schema": {"title": "Rollback?", "type": "object", "properties": {"yes": {"type": "boolean"}}}}`),
			want: Question{Prompt: "Rollback?", TTL: DefaultTTL,
				Schema: map[string]any{"title": "Rollback?", "type": "object", "properties": map[string]any{"yes": map[string]any{"type": "boolean"}}}},
		},
		{
			name:   "not StackStorm's generic title",
			params: decode(t, `{"schema": {"title": "response_data", "type": "object", "properties": {"yes": {"type": "boolean"}}}}`),
			want: Question{TTL: DefaultTTL,
				Schema: map[string]any{"title": "response_data", "type": "object", "properties": map[string]any{"yes": map[string]any{"type": "boolean"}}}},
		},
		{
			name:   "a flat StackStorm schema",
			params: decode(t, `{"schema": {"reason": {"type": "string", "required": true}}}`),
			want: Question{TTL: DefaultTTL,
				Schema: map[string]any{"reason": map[string]any{"type": "string", "required": true}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := ParseQuestion(tc.params)
			require.NoError(t, err)
			require.Equal(t, tc.want, q)
		})
	}
}

func TestParseQuestionInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   []string // every one is in the message
	}{
		{"schema not an object", map[string]any{"schema": "yes/no"}, []string{"schema: must be a JSON Schema object"}},
		{"schema a list", map[string]any{"schema": []any{"a"}}, []string{"schema: must be a JSON Schema object"}},
		{"schema of another type", decode(t, `{"schema": {"type": "array"}}`), []string{`schema: type: a JSON Schema must have type "object"`}},
		{"schema with an unknown property type", decode(t, `{"schema": {"type": "object", "properties": {"n": {"type": "int"}}}}`),
			[]string{`schema: n: unknown type "int"`}},
		{"schema requiring a missing property", decode(t, `{"schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}}`),
			[]string{"schema: b: is listed as required but has no property"}},
		{"a template default of the wrong type", decode(t, `{"schema": {"type": "object", "properties": {
			"n": {"type": "integer", "default": "{{ ctx().n }}"}, "s": {"type": "string", "default": "{{ fine }}"}}}}`),
			[]string{"schema: n: default must be an integer (a response schema is not rendered)"}},
		{"users not a list", map[string]any{"users": "alice"}, []string{"users: must be a list of names"}},
		{"users with a number", decode(t, `{"users": ["alice", 7]}`), []string{"users: must be a list of names"}},
		{"users with an empty name", decode(t, `{"users": [""]}`), []string{"users: must be a list of names"}},
		{"users with an empty name from Go", map[string]any{"users": []string{"alice", ""}}, []string{"users: must be a list of names"}},
		{"roles not a list", map[string]any{"roles": "ADMIN"}, []string{"roles: must be a list of names"}},
		{"roles with null", decode(t, `{"roles": [null]}`), []string{"roles: must be a list of names"}},
		{"route not a string", map[string]any{"route": 5.0}, []string{"route: must be a string"}},
		{"ttl zero", map[string]any{"ttl": 0.0}, []string{"ttl: must be a positive number of minutes"}},
		{"ttl negative", map[string]any{"ttl": -5}, []string{"ttl: must be a positive number of minutes"}},
		{"ttl NaN", map[string]any{"ttl": math.NaN()}, []string{"ttl: must be a positive number of minutes"}},
		{"ttl infinite", map[string]any{"ttl": math.Inf(1)}, []string{"ttl: must be a positive number of minutes"}},
		{"ttl a string", map[string]any{"ttl": "60"}, []string{"ttl: must be a number of minutes"}},
		{"ttl a bool", map[string]any{"ttl": true}, []string{"ttl: must be a number of minutes"}},
		{
			name: "every problem at once",
			params: decode(t, `{"schema": {"type": "object", "properties": {"a": {"type": "nope"}}},
				"users": "alice", "roles": [1], "route": [], "ttl": -1}`),
			want: []string{`schema: a: unknown type "nope"`, "users: must be a list of names",
				"roles: must be a list of names", "route: must be a string", "ttl: must be a positive number of minutes"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := ParseQuestion(tc.params)
			require.Error(t, err)
			require.Zero(t, q)
			require.True(t, strings.HasPrefix(err.Error(), "invalid inquiry: "), err.Error())
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
			require.Len(t, strings.Split(strings.TrimPrefix(err.Error(), "invalid inquiry: "), "; "), len(tc.want), err.Error())
		})
	}
}

// TestParseQuestionKeepsItsInput: parsing neither upper-cases the
// caller's roles nor hands back its lists.
func TestParseQuestionKeepsItsInput(t *testing.T) {
	t.Parallel()
	roles := []string{"admin"}
	users := []string{"alice"}
	q, err := ParseQuestion(map[string]any{"roles": roles, "users": users})
	require.NoError(t, err)
	require.Equal(t, []string{"ADMIN"}, q.Roles)
	require.Equal(t, []string{"admin"}, roles)
	q.Users[0] = "mallory"
	require.Equal(t, []string{"alice"}, users)
}

func TestPromptOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		params map[string]any
		schema map[string]any
		want   string
	}{
		{"nothing", nil, nil, ""},
		{"prompt", map[string]any{"prompt": "p"}, map[string]any{"description": "d", "title": "t"}, "p"},
		{"prompt not a string", map[string]any{"prompt": 3.0}, map[string]any{"description": "d"}, "d"},
		{"description", nil, map[string]any{"description": "d", "title": "t"}, "d"},
		{"empty description", nil, map[string]any{"description": "", "title": "t"}, "t"},
		{"title", nil, map[string]any{"title": "t"}, "t"},
		{"generic title", nil, map[string]any{"title": "response_data"}, ""},
		{"StackStorm's default schema", nil, defaultSchema(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, promptOf(tc.params, tc.schema))
		})
	}
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	deploy := `{"type": "object", "properties": {
		"approved": {"type": "boolean", "required": true},
		"env": {"type": "string", "enum": ["staging", "production"], "default": "staging"},
		"replicas": {"type": "integer", "minimum": 1, "maximum": 10},
		"reason": {"type": "string"},
		"tags": {"type": "array", "items": {"type": "string"}}}}`
	listed := `{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}, "required": ["a", "b"]}`
	for _, tc := range []struct {
		name     string
		schema   string
		response string
		want     string             // the accepted answer, JSON
		fields   []param.FieldError // or every field refused, sorted
	}{
		{
			name: "StackStorm's default schema", schema: "", response: `{"continue": true}`,
			want: `{"continue": true}`,
		},
		{
			name: "StackStorm's default schema, answer missing", schema: "", response: `{}`,
			fields: []param.FieldError{{Field: "continue", Message: "is required"}},
		},
		{
			name: "StackStorm's default schema, null answer", schema: "", response: `{"continue": null}`,
			fields: []param.FieldError{{Field: "continue", Message: "is required"}},
		},
		{
			name: "StackStorm's default schema, no response at all", schema: "", response: `null`,
			fields: []param.FieldError{{Field: "continue", Message: "is required"}},
		},
		{
			name: "draft-3 required and defaults filled", schema: deploy, response: `{"approved": false}`,
			want: `{"approved": false, "env": "staging"}`,
		},
		{
			name: "every field", schema: deploy,
			response: `{"approved": true, "env": "production", "replicas": 3, "reason": "hotfix", "tags": ["a", "b"]}`,
			want:     `{"approved": true, "env": "production", "replicas": 3, "reason": "hotfix", "tags": ["a", "b"]}`,
		},
		{
			name: "every problem, each with its field", schema: deploy,
			response: `{"env": "prod", "replicas": 2.5, "reason": 7, "tags": ["a", 1], "force": true}`,
			fields: []param.FieldError{
				{Field: "approved", Message: "is required"},
				{Field: "env", Message: "must be one of [staging production]"},
				{Field: "force", Message: "is not a known parameter"},
				{Field: "reason", Message: "must be a string"},
				{Field: "replicas", Message: "must be an integer"},
				{Field: "tags[1]", Message: "must be a string"},
			},
		},
		{
			name: "bounds", schema: deploy, response: `{"approved": true, "replicas": 11}`,
			fields: []param.FieldError{{Field: "replicas", Message: "must be at most 10"}},
		},
		{
			name: "wrong types", schema: deploy, response: `{"approved": "yes", "tags": "a"}`,
			fields: []param.FieldError{{Field: "approved", Message: "must be a boolean"}, {Field: "tags", Message: "must be an array"}},
		},
		{
			name: "a required list", schema: listed, response: `{"a": "x", "b": 1.5}`,
			want: `{"a": "x", "b": 1.5}`,
		},
		{
			name: "a required list, both missing", schema: listed, response: `{}`,
			fields: []param.FieldError{{Field: "a", Message: "is required"}, {Field: "b", Message: "is required"}},
		},
		{
			name: "unknown property refused", schema: listed, response: `{"a": "x", "b": 1, "c": 2}`,
			fields: []param.FieldError{{Field: "c", Message: "is not a known parameter"}},
		},
		{
			name: "nested object", schema: `{"type": "object", "properties": {"who": {"type": "object",
				"properties": {"name": {"type": "string"}}, "required": ["name"]}}}`,
			response: `{"who": {}}`,
			fields:   []param.FieldError{{Field: "who.name", Message: "is required"}},
		},
		{
			name: "a flat StackStorm schema", schema: `{"reason": {"type": "string", "required": true}}`,
			response: `{"reason": "because"}`, want: `{"reason": "because"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			schema := defaultSchema()
			if tc.schema != "" {
				schema = decode(t, tc.schema)
			}
			var response map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.response), &response))
			got, err := ValidateResponse(schema, response)
			if tc.fields != nil {
				var pe *param.Error
				require.ErrorAs(t, err, &pe)
				require.Equal(t, tc.fields, pe.Fields)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, decode(t, tc.want), got)
		})
	}
}

// TestValidateResponseLeavesItsInput: the stored schema and the caller's
// response are not changed by validating.
func TestValidateResponseLeavesItsInput(t *testing.T) {
	t.Parallel()
	schema := decode(t, `{"type": "object", "properties": {"a": {"type": "string", "default": "x"},
		"b": {"type": "object", "properties": {"c": {"type": "integer"}}, "required": ["c"]}}, "required": ["b"]}`)
	before := decode(t, `{"type": "object", "properties": {"a": {"type": "string", "default": "x"},
		"b": {"type": "object", "properties": {"c": {"type": "integer"}}, "required": ["c"]}}, "required": ["b"]}`)
	response := map[string]any{"b": map[string]any{"c": 1.0}}
	got, err := ValidateResponse(schema, response)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": "x", "b": map[string]any{"c": 1.0}}, got)
	require.Equal(t, before, schema)
	require.Equal(t, map[string]any{"b": map[string]any{"c": 1.0}}, response)
}

func TestValidateResponseBadSchema(t *testing.T) {
	t.Parallel()
	_, err := ValidateResponse(decode(t, `{"type": "object", "properties": {"a": {"type": "nope"}}}`), map[string]any{"a": 1.0})
	var pe *param.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "a", pe.Fields[0].Field)
}

func FuzzParseQuestion(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"ttl": 0.5, "roles": ["admin"], "users": ["alice"], "route": "ops", "prompt": "Go?"}`,
		`{"schema": {"type": "object", "properties": {"ok": {"type": "boolean", "required": true}}}}`,
		`{"schema": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]}}`,
		`{"schema": {"title": "t", "description": "d", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}}}`,
		`{"schema": {"a": {"type": "array", "items": {"type": "object", "properties": {"x": {}}}}}}`,
		`{"schema": "x", "users": 1, "roles": [null], "route": [], "ttl": -1}`,
		`{"ttl": 1e308, "schema": {"type": "object"}}`,
		`{"schema": {"type": "object", "properties": {"e": {"enum": [1, "a", null], "default": "a"}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var params map[string]any
		if json.Unmarshal(data, &params) != nil {
			return
		}
		q, err := ParseQuestion(params)
		if err != nil {
			require.True(t, strings.HasPrefix(err.Error(), "invalid inquiry: "), err.Error())
			require.Zero(t, q)
			return
		}
		require.NotNil(t, q.Schema)
		require.Greater(t, q.TTL, 0.0)
		require.False(t, math.IsInf(q.TTL, 0))
		for _, r := range q.Roles {
			require.Equal(t, strings.ToUpper(r), r)
		}
		for _, u := range q.Users {
			require.NotEmpty(t, u)
		}
		require.Equal(t, promptOf(params, q.Schema), q.Prompt)
		// The schema it accepted is one responses can be checked against.
		_, err = ValidateResponse(q.Schema, map[string]any{})
		if err != nil {
			var pe *param.Error
			require.ErrorAs(t, err, &pe)
		}
	})
}

func FuzzValidateResponse(f *testing.F) {
	deploy := `{"type": "object", "properties": {"approved": {"type": "boolean", "required": true},
		"env": {"type": "string", "enum": ["staging", "production"], "default": "staging"},
		"replicas": {"type": "integer", "minimum": 1, "maximum": 10}, "tags": {"type": "array", "items": {"type": "string"}}}}`
	for _, seed := range [][2]string{
		{``, `{"continue": true}`},
		{``, `{}`},
		{deploy, `{"approved": true}`},
		{deploy, `{"approved": true, "env": "production", "replicas": 3, "tags": ["x"]}`},
		{deploy, `{"approved": "no", "replicas": 0.5, "extra": null}`},
		{`{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}`, `{"a": "x"}`},
		{`{"type": "object", "properties": {"o": {"type": "object", "default": {"k": [1, 2]}, "properties": {"k": {"type": "array"}}}}}`, `{}`},
		{`{"n": {"type": "number", "default": 1.5}, "s": {"type": "any"}}`, `{"n": null, "s": {"x": [null]}}`},
		{`{"type": "object"}`, `{"anything": [1, {"b": false}]}`},
		{`{"type": "object", "properties": {"n": {"type": "integer", "default": "{{ x }}"}}}`, `{}`},
		{`{"type": "object", "properties": {"s": {"type": "string", "default": "{{ x }}"}}}`, `{}`},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, schemaDoc, responseDoc string) {
		var params map[string]any
		if schemaDoc != "" {
			var s any
			if json.Unmarshal([]byte(schemaDoc), &s) != nil {
				return
			}
			params = map[string]any{"schema": s}
		}
		var response map[string]any
		if json.Unmarshal([]byte(responseDoc), &response) != nil {
			return
		}
		q, err := ParseQuestion(params)
		if err != nil {
			return // Ask never stores such a schema
		}
		schema := q.Schema
		got, err := ValidateResponse(schema, response)
		if err != nil {
			var pe *param.Error
			require.ErrorAs(t, err, &pe)
			require.NotEmpty(t, pe.Fields)
			return
		}
		again, err := ValidateResponse(schema, got)
		require.NoError(t, err, "an accepted answer %v is refused on a second look", got)
		require.Equal(t, got, again)
		// The answer is stored as JSON and read back: it must survive that.
		raw, err := json.Marshal(got)
		require.NoError(t, err)
		var stored map[string]any
		require.NoError(t, json.Unmarshal(raw, &stored))
		_, err = ValidateResponse(schema, stored)
		require.NoError(t, err)
	})
}
