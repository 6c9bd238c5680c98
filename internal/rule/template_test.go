package rule

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// testContext returns a fresh rendering context whose payload is decoded from JSON.
func testContext(t testing.TB) Context {
	t.Helper()
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"count": 3,
		"ratio": 0.5,
		"flag": true,
		"nothing": null,
		"name": "Web-01",
		"numstr": "42",
		"obj": {"a": 1, "b": "<x>"},
		"list": [1, "two"],
		"headers": {"X-Token": "abc"}
	}`), &payload))
	return Context{
		"trigger": payload,
		"event":   map[string]any{"id": 7, "payload": payload, "trigger": "core.webhook"},
		"rule":    map[string]any{"ref": "demo.rule"},
		"pack":    map[string]any{"config": map[string]any{"region": "eu"}},
		"st2kv":   map[string]any{"system": map[string]any{"db": "pg"}},
		"nested":  Context{"inner": Context{"x": 1}},
	}
}

func TestRenderValues(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		param any
		want  any
	}{
		// type preservation
		{"int", "{{ trigger.count }}", 3.0},
		{"float with blanks", "  {{trigger.ratio}}\n", 0.5},
		{"bool", "{{ trigger.flag }}", true},
		{"object", "{{ trigger.obj }}", map[string]any{"a": 1.0, "b": "<x>"}},
		{"list", "{{ trigger.list }}", []any{1.0, "two"}},
		{"null", "{{ trigger.nothing }}", nil},
		{"string", "{{ trigger.name }}", "Web-01"},
		{"whole namespace", "{{ rule }}", map[string]any{"ref": "demo.rule"}},
		// mixed text
		{"mixed", "n={{ trigger.count }} r={{ trigger.ratio }} f={{ trigger.flag }} z={{ trigger.nothing }} s={{ trigger.name }}",
			"n=3 r=0.5 f=true z=null s=Web-01"},
		{"mixed object and list", "o={{ trigger.obj }} l={{ trigger.list }}", `o={"a":1,"b":"<x>"} l=[1,"two"]`},
		{"two expressions", "{{ trigger.count }}{{ trigger.name }}", "3Web-01"},
		{"expressions around blank", "{{ trigger.count }} {{ trigger.count }}", "3 3"},
		// paths
		{"list index", "{{ trigger.list.1 }}", "two"},
		{"bracket index", "{{ trigger.list[0] }}", 1.0},
		{"bracket key", `{{ trigger.headers["X-Token"] }}`, "abc"},
		{"bracket single quotes", `{{ trigger['headers']['X-Token'] }}`, "abc"},
		{"event payload", "{{ event.payload.name }}", "Web-01"},
		{"st2kv", "{{ st2kv.system.db }}", "pg"},
		{"pack config", "region {{ pack.config.region }}", "region eu"},
		{"nested Context", "{{ nested.inner.x }}", 1},
		// filters
		{"lower", "{{ trigger.name | lower }}", "web-01"},
		{"upper", "{{ trigger.name|upper }}", "WEB-01"},
		{"lower non-string", "{{ trigger.flag | upper }}", "TRUE"},
		{"json object", "{{ trigger.obj | json }}", `{"a":1,"b":"<x>"}`},
		{"json string", "{{ trigger.name | tojson }}", `"Web-01"`},
		{"string", "{{ trigger.flag | string }}", "true"},
		{"string of number", "{{ trigger.count | string }}", "3"},
		{"int of numeric string", "{{ trigger.numstr | int }}", int64(42)},
		{"int of float", "{{ trigger.ratio | int }}", int64(0)},
		{"int of int", "{{ event.id | int }}", int64(7)},
		{"int twice", "{{ trigger.count | int | int }}", int64(3)},
		{"chained", "{{ trigger.name | lower | json }}", `"web-01"`},
		{"empty parens", "{{ trigger.name | lower() }}", "web-01"},
		// default
		{"default string", "{{ trigger.missing | default('x') }}", "x"},
		{"default double quoted", `{{ trigger.missing | default("a'b") }}`, "a'b"},
		{"default escaped quote", `{{ trigger.missing | default('it\'s "q"') }}`, `it's "q"`},
		{"default number", "{{ trigger.missing | default(2.5) }}", 2.5},
		{"default negative", "{{ trigger.missing | default(-1) }}", -1.0},
		{"default bool", "{{ trigger.missing | default(false) }}", false},
		{"default python bool", "{{ trigger.missing | default(True) }}", true},
		{"default null", "{{ trigger.missing | default(None) }}", nil},
		{"default list", "{{ trigger.missing | default([1, \"a\"]) }}", []any{1.0, "a"}},
		{"default object", `{{ trigger.missing | default({"k": {}}) }}`, map[string]any{"k": map[string]any{}}},
		{"default no argument", "{{ trigger.missing | default }}", ""},
		{"default on null", "{{ trigger.nothing | default(1) }}", 1.0},
		{"default unused", "{{ trigger.count | default(1) }}", 3.0},
		{"default missing namespace", "{{ keystore.pw | default('none') }}", "none"},
		{"default through deeper missing", "{{ trigger.name.x.y | default(0) }}", 0.0},
		{"filters before default skipped", "{{ trigger.missing | upper | default('d') }}", "d"},
		{"filters after default", "{{ trigger.missing | default('d') | upper }}", "D"},
		{"default in text", "a-{{ trigger.missing | default('}}') }}-b", "a-}}-b"},
		// no templates
		{"plain", "plain text", "plain text"},
		{"stray braces", "a } b { c }} d", "a } b { c }} d"},
		{"trailing brace", "ends with {", "ends with {"},
		{"number", 5, 5},
		{"bool param", true, true},
		{"null param", nil, nil},
		{"nested", map[string]any{"a": []any{"{{ trigger.count }}", "x", 1}, "b": map[string]any{"c": "{{ rule.ref }}!"}},
			map[string]any{"a": []any{3.0, "x", 1}, "b": map[string]any{"c": "demo.rule!"}}},
		{"nested constant", map[string]any{"a": []any{"x", map[string]any{"b": 1}}}, map[string]any{"a": []any{"x", map[string]any{"b": 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Render(map[string]any{"p": tt.param, "fixed": 1}, testContext(t))
			require.NoError(t, err)
			require.Equal(t, map[string]any{"p": tt.want, "fixed": 1}, out)
		})
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		params map[string]any
		want   TemplateError // Message is a substring
	}{
		{"missing path", map[string]any{"msg": "{{ trigger.x }}"},
			TemplateError{Param: "msg", Path: "trigger.x", Message: "not found"}},
		{"missing namespace", map[string]any{"msg": "pw={{ keystore.db_password }}"},
			TemplateError{Param: "msg", Path: "keystore.db_password", Message: "not found"}},
		{"index out of range", map[string]any{"a": map[string]any{"b": []any{"ok", "{{ trigger.list.5 }}"}}},
			TemplateError{Param: "a.b.1", Path: "trigger.list.5", Message: "not found"}},
		{"key on a list", map[string]any{"a": "{{ trigger.list.x }}"},
			TemplateError{Param: "a", Path: "trigger.list.x", Message: "not found"}},
		{"missing through filter", map[string]any{"a": "{{ trigger.x | lower }}"},
			TemplateError{Param: "a", Path: "trigger.x", Message: "not found"}},
		{"int of text", map[string]any{"a": "{{ trigger.name | int }}"},
			TemplateError{Param: "a", Path: "trigger.name", Message: "filter int: cannot convert string to an integer"}},
		{"int of object", map[string]any{"a": "{{ trigger.obj | int }}"},
			TemplateError{Param: "a", Path: "trigger.obj", Message: "cannot convert object"}},
		{"int of null", map[string]any{"a": "{{ trigger.nothing | int }}"},
			TemplateError{Param: "a", Path: "trigger.nothing", Message: "cannot convert null"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := Render(tt.params, testContext(t))
			require.Nil(t, out)
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tt.want.Param, te.Param)
			require.Equal(t, tt.want.Path, te.Path)
			require.Contains(t, te.Message, tt.want.Message)
			require.NotContains(t, err.Error(), "Web-01", "errors must not echo values")
		})
	}
}

func TestRenderUnencodableValue(t *testing.T) {
	t.Parallel()

	ctx := Context{"trigger": map[string]any{"ch": make(chan int)}}
	_, err := Render(map[string]any{"a": "x{{ trigger.ch }}"}, ctx)
	var te *TemplateError
	require.ErrorAs(t, err, &te)
	require.Equal(t, "trigger.ch", te.Path)
	require.Contains(t, te.Message, "JSON")
}

func TestCompileTemplatesSyntaxErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, tmpl, want string
	}{
		{"empty", "{{ }}", "col 4: expected a variable name"},
		{"unterminated", "a {{ trigger.x", "unterminated expression"},
		{"unterminated after filter", "{{ trigger.x | lower", "unterminated"},
		{"single brace close", "{{ trigger.x }", "expected '.', '[', '|' or '}}'"},
		{"unknown filter", "{{ trigger.x | capitalize }}", `unknown filter "capitalize"`},
		{"missing filter name", "{{ trigger.x | }}", "expected a filter name"},
		{"empty segment", "{{ trigger..x }}", "expected a key or index after '.'"},
		{"digit root", "{{ 1abc }}", "expected a variable name"},
		{"operator", "{{ a + b }}", `unexpected '+'`},
		{"call", "{{ range(3) }}", `unexpected '('`},
		{"statement", "{% if x %}y{% endif %}", "statements and comments are not supported"},
		{"comment", "a {# c #}", "statements and comments are not supported"},
		{"filter argument to argless filter", "{{ x | lower(1) }}", "filter lower takes no argument"},
		{"two default arguments", "{{ x | default(1, 2) }}", "expected ')'"},
		{"unclosed call", "{{ x | default(1 }}", "expected ')'"},
		{"unterminated string", "{{ x | default('abc) }}", "unterminated string literal"},
		{"bad escape", `{{ x | default('\q') }}`, "invalid string literal"},
		{"bare word literal", "{{ x | default(nope) }}", "expected a literal"},
		{"bad JSON literal", "{{ x | default(tru) }}", "expected a literal"},
		{"bad JSON object", "{{ x | default({a: 1}) }}", "invalid literal"},
		{"word subscript", "{{ x[abc] }}", "subscript must be an integer or a quoted key"},
		{"negative subscript", "{{ x[-1] }}", "subscript must be an integer or a quoted key"},
		{"unclosed subscript", "{{ x['a' }}", "expected ']'"},
		{"unterminated subscript", "{{ x['a }}", "unterminated string literal"},
		{"whitespace control", "{{- x }}", "expected a variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp, err := CompileTemplates(map[string]any{"ok": "{{ trigger.x }}", "bad": tt.tmpl})
			require.Nil(t, tp)
			var se *TemplateSyntaxError
			require.ErrorAs(t, err, &se)
			require.Len(t, se.Problems, 1)
			require.Equal(t, "bad", se.Problems[0].Key)
			require.Contains(t, se.Problems[0].Message, tt.want)
		})
	}
}

func TestCompileTemplatesListsEveryBadParameter(t *testing.T) {
	t.Parallel()

	_, err := CompileTemplates(map[string]any{
		"b":  "{{",
		"a":  map[string]any{"c": []any{"ok", "{{ x | y }}"}},
		"ok": "{{ trigger.x }}",
	})
	var se *TemplateSyntaxError
	require.ErrorAs(t, err, &se)
	require.Len(t, se.Problems, 2)
	require.Equal(t, "a.c.1", se.Problems[0].Key)
	require.Equal(t, "b", se.Problems[1].Key)
	require.Contains(t, err.Error(), "invalid template: a.c.1: ")
}

func TestReferences(t *testing.T) {
	t.Parallel()

	tp, err := CompileTemplates(map[string]any{
		"password": "{{ keystore.db_password }}",
		"message":  []any{"{{ trigger.host }} {{ keystore.db_password | lower }}", "{{ trigger.host }}"},
		"headers":  map[string]any{"auth": `Bearer {{ st2kv.system["api-token"] }}`},
		"static":   5,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"keystore.db_password", "st2kv.system.api-token", "trigger.host"}, tp.References())
	require.Equal(t, map[string][]string{
		"password": {"keystore.db_password"},
		"message":  {"keystore.db_password", "trigger.host"},
		"headers":  {"st2kv.system.api-token"},
	}, tp.ParamReferences())
}

func TestRenderRefusesSyntaxErrors(t *testing.T) {
	t.Parallel()

	out, err := Render(map[string]any{"a": "{{ x"}, testContext(t))
	require.Nil(t, out)
	var se *TemplateSyntaxError
	require.ErrorAs(t, err, &se)
}

func TestRenderNoParams(t *testing.T) {
	t.Parallel()

	for _, params := range []map[string]any{nil, {}} {
		tp, err := CompileTemplates(params)
		require.NoError(t, err)
		require.Empty(t, tp.References())
		out, err := tp.Render(nil)
		require.NoError(t, err)
		require.Empty(t, out)
	}
}

func FuzzTemplate(f *testing.F) {
	for _, seed := range []string{
		"plain",
		"{{ trigger.count }}",
		"a {{ trigger.name | lower | default('x') }} b",
		`{{ trigger.headers["X-Token"] | json }}`,
		"{{ trigger.missing | default({\"a\": [1, null]}) | int }}",
		"{{ trigger.list.1 | upper }}{{ trigger.obj }}",
		"{{ x | default('\\'') }}",
		"{% if %}",
		"{{",
	} {
		f.Add(seed)
	}
	ctx := testContext(f)
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := CompileTemplates(map[string]any{"p": s, "q": []any{s}})
		if err != nil {
			var se *TemplateSyntaxError
			require.ErrorAs(t, err, &se)
			require.NotEmpty(t, se.Problems)
			return
		}
		out, err := tp.Render(ctx)
		if err != nil {
			var te *TemplateError
			require.ErrorAs(t, err, &te)
			return
		}
		require.Contains(t, out, "p")
		require.Contains(t, out, "q")
	})
}

func BenchmarkRender(b *testing.B) {
	tp, err := CompileTemplates(map[string]any{
		"count":    "{{ trigger.count }}",
		"message":  "host {{ trigger.name | lower }} has {{ trigger.count }} alerts in {{ pack.config.region }}",
		"token":    `{{ trigger.headers["X-Token"] }}`,
		"extra":    map[string]any{"tags": []any{"{{ trigger.list.1 | upper }}", "static"}, "n": 1},
		"fallback": "{{ trigger.missing | default('none') }}",
		"static":   "no templates here",
	})
	require.NoError(b, err)
	ctx := testContext(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tp.Render(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCompileProblemsJinja: Jinja that attune's own templates refuse is
// accepted for a StackStorm rule (jinja set), and still refused for
// attune's rules; what parses as neither is refused for both.
func TestCompileProblemsJinja(t *testing.T) {
	t.Parallel()
	params := map[string]any{
		"a": "{{ trigger.x ~ '-' ~ rule.ref }}",
		"b": map[string]any{"k": "{% if trigger.y %}yes{% endif %}"},
		"c": "{{ trigger.z | to_json_string }}",
		"d": "{{ trigger.( }}",
	}
	keys := func(ps []Problem) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Key)
		}
		return out
	}
	require.Equal(t, []string{"p.d"}, keys(CompileProblems(nil, params, "p", true)))
	require.ElementsMatch(t, []string{"p.a", "p.b.k", "p.c", "p.d"}, keys(CompileProblems(nil, params, "p", false)))
}
