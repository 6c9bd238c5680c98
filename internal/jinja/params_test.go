package jinja

import (
	"errors"
	"strings"
	"testing"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/param"
)

func testKeys() map[string]any {
	return map[string]any{
		"system": (&Keys{Scope: "st2kv.system", Values: map[string]any{
			"hello_st2.count": 3, "host": "db01", "a": "A", "a.b": "AB", "pw": "sealed:s3cret",
		}}).Root(),
		"user": (&Keys{Scope: "st2kv.user", Values: map[string]any{"token": "u-tok"}}).Root(),
	}
}

func testEnv() *Env {
	return New(Options{Decrypt: func(ct string) (any, error) {
		if plain, ok := strings.CutPrefix(ct, "sealed:"); ok {
			return plain, nil
		}
		return nil, errors.New("cannot decrypt secret: wrong encryption key")
	}})
}

func TestRenderParams(t *testing.T) {
	t.Parallel()
	schema := param.Schema{
		"count":   {Type: param.TypeInteger},
		"ratio":   {Type: param.TypeNumber},
		"enabled": {Type: param.TypeBoolean},
		"tags":    {Type: param.TypeArray},
		"meta":    {Type: param.TypeObject},
		"host":    {Type: param.TypeString},
		"cmd":     {Type: param.TypeString},
		"pass":    {Type: param.TypeString, Secret: true},
		"opt":     {Type: param.TypeString},
	}
	ctx := map[string]any{
		"st2kv":          testKeys(),
		"config_context": map[string]any{"region": "eu", "port": 8080, "api_key": "k-123"},
	}
	tests := []struct {
		name   string
		values map[string]any
		want   map[string]any
		taint  []string
	}{
		{"plain values untouched", map[string]any{"count": 2.0, "host": "h"}, map[string]any{"count": 2, "host": "h"}, nil},
		{"dependency order", map[string]any{
			"cmd": "ping -c {{ count }} {{ host }}", "host": "{{ st2kv.system.host }}", "count": "{{ config_context.port // 1000 }}",
		}, map[string]any{"cmd": "ping -c 8 db01", "host": "db01", "count": 8}, nil},
		{"dotted key names", map[string]any{"count": "{{ st2kv.system.hello_st2.count }}", "host": "{{ st2kv.system.a }}/{{ st2kv.system.a.b }}"},
			map[string]any{"count": 3, "host": "A/AB"}, nil},
		{"missing key reads empty", map[string]any{"host": "[{{ st2kv.system.nope }}]"}, map[string]any{"host": "[]"}, nil},
		{"user scope", map[string]any{"host": "{{ st2kv.user.token }}"}, map[string]any{"host": "u-tok"}, nil},
		{"casts", map[string]any{"ratio": "{{ 1 / 4 }}", "enabled": "{{ count > 1 }}", "count": 2.0,
			"tags": "{{ ['a', 'b'] }}", "meta": "{{ {'k': 1} | to_json_string }}"},
			map[string]any{"ratio": 0.25, "enabled": true, "count": 2, "tags": []any{"a", "b"}, "meta": map[string]any{"k": 1}}, nil},
		{"whole-string variables keep their type in lists", map[string]any{"count": 4.0, "tags": []any{"{{count}}", "x-{{ count }}"}},
			map[string]any{"count": 4, "tags": []any{4, "x-4"}}, nil},
		{"use_none", map[string]any{"opt": "{{ none | use_none }}"}, map[string]any{"opt": nil}, nil},
		{"not Jinja after all", map[string]any{"host": "{{ broken"}, map[string]any{"host": "{{ broken"}, nil},
		{"decrypted secret taints", map[string]any{"cmd": "login {{ st2kv.system.pw | decrypt_kv }}", "host": "{{ cmd | length }}"},
			map[string]any{"cmd": "login s3cret", "host": "12"}, []string{"cmd", "host"}},
		{"secret parameter taints", map[string]any{"pass": "p4ss", "cmd": "use {{ pass }}"},
			map[string]any{"pass": "p4ss", "cmd": "use p4ss"}, []string{"cmd"}},
		{"secret config field taints", map[string]any{"cmd": "key={{ config_context.api_key }}", "host": "{{ config_context.region }}"},
			map[string]any{"cmd": "key=k-123", "host": "eu"}, []string{"cmd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := testEnv().RenderParams(tc.values, schema, ctx, "k-123")
			require.NoError(t, err)
			require.Equal(t, tc.want, r.Params)
			require.Equal(t, tc.taint, r.Tainted)
		})
	}
}

func TestRenderParamsErrors(t *testing.T) {
	t.Parallel()
	schema := param.Schema{"count": {Type: param.TypeInteger}, "enabled": {Type: param.TypeBoolean}, "s": {Type: param.TypeString}}
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"unknown variable", map[string]any{"s": "{{ nope }}"}, `Dependency unsatisfied in variable "nope"`},
		{"cycle", map[string]any{"s": "{{ count }}", "count": "{{ s }}"},
			"Cyclic dependency found in the following variables: count, s. Likely the variable is referencing itself"},
		{"self reference", map[string]any{"s": "{{ s }}x"}, "Cyclic dependency found in the following variables: s."},
		{"undefined attribute", map[string]any{"s": "{{ config_context.missing.deeper }}"}, `Failed to render parameter "s": `},
		{"filter error", map[string]any{"s": "{{ 'x' | regex_substring('y') }}"}, `Failed to render parameter "s": regex_substring: list index out of range`},
		{"bad integer", map[string]any{"count": "{{ 'ten' }}"}, `Failed to cast parameter "count": invalid literal for int() with base 10: 'ten'`},
		{"bad boolean", map[string]any{"enabled": "{{ 'maybe' }}"}, `Failed to cast parameter "enabled": malformed node or string: 'maybe'`},
		{"string of a number", map[string]any{"s": 3.0}, `Failed to cast parameter "s": Value "3" must either be a string or None. Got "int".`},
		{"missing key decrypted", map[string]any{"s": "{{ st2kv.system.gone | decrypt_kv }}"},
			`Referenced datastore item "st2kv.system.gone" doesn't exist or it contains an empty string`},
		{"undecryptable", map[string]any{"s": "{{ st2kv.system.host | decrypt_kv }}"}, "wrong encryption key"},
		{"loop budget", map[string]any{"s": "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"},
			"loops ran more than 100000 iterations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := map[string]any{"st2kv": testKeys(), "config_context": map[string]any{}}
			_, err := testEnv().RenderParams(tc.values, schema, ctx)
			var pe *ParamError
			require.ErrorAs(t, err, &pe)
			require.Contains(t, pe.Msg, tc.want)
		})
	}
}

func TestFilterTables(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	ctx := map[string]any{"doc": map[string]any{"hosts": []any{map[string]any{"name": "a", "ip": "10.0.0.1"}, map[string]any{"name": "b"}}}}
	for _, c := range []struct{ src, want string }{
		// python-semver's results
		{"{{ '1.2.3' | version_compare('1.2.4') }}", "-1"},
		{"{{ '1.10.0' | version_more_than('1.9.9') }}", "True"},
		{"{{ '1.0.0-alpha' | version_less_than('1.0.0') }}", "True"},
		{"{{ '1.0.0-alpha.1' | version_compare('1.0.0-alpha.beta') }}", "-1"},
		{"{{ '1.0.0+build' | version_equal('1.0.0') }}", "True"},
		{"{{ '2.1.0' | version_match('>=2.0.0') }}", "True"},
		{"{{ '2.1.0' | version_match('<2.0.0') }}", "False"},
		{"{{ '1.2.3' | version_bump_major }} {{ '1.2.3' | version_bump_minor }} {{ '1.2.3-rc.1' | version_bump_patch }}", "2.0.0 1.3.0 1.2.4"},
		{"{{ '1.2.3' | version_strip_patch }}", "1.2"},
		// jsonpath_rw's results: a list of matches, None when nothing matches
		{"{{ doc | jsonpath_query('hosts[*].name') }}", "['a', 'b']"},
		{"{{ doc | jsonpath_query('$.hosts[0].ip') }}", "['10.0.0.1']"},
		{"{{ doc | jsonpath_query('hosts[*].port') is none }}", "True"},
		{"{{ doc | jsonpath_query('$..ip') }}", "['10.0.0.1']"},
	} {
		got, err := e.Render(c.src, ctx)
		require.NoError(t, err, c.src)
		require.Equal(t, c.want, got, c.src)
	}
	for _, src := range []string{
		"{{ 'x.y' | version_compare('1.0.0') }}",
		"{{ 'a' | regex_replace('(', 'b') }}",
		"{{ 'a' | regex_replace('a', '\\\\2') }}",
		"{{ '{' | from_json_string }}",
		"{{ doc | jsonpath_query('[[') }}",
		"{% include 'x.j2' %}",
		"{% import 'x.j2' as x %}",
		"{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
		"{{ 'ab' * 10000000 }}",
		"{{ range(10000000) | length }}",
		"{{ 'a' | center(100000000) }}",
	} {
		_, err := e.Render(src, ctx)
		require.Error(t, err, src)
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	for src, want := range map[string][]string{
		"{{ a }} {{ b.c }} {{ d['e'] | default(f) }}":                 {"a", "b", "d", "f"},
		"{% for x in items %}{{ x }}{{ loop.index }}{% endfor %}":     {"items"},
		"{% set y = z * 2 %}{{ y }}":                                  {"z"},
		"{{ range(3) | list }} {{ true }} {{ none }} {{ dict(a=1) }}": nil,
		"{% if cond %}{{ then }}{% else %}{{ other }}{% endif %}":     {"cond", "other", "then"},
	} {
		tpl, err := e.Parse(src)
		require.NoError(t, err, src)
		require.Equal(t, want, tpl.Variables(), src)
	}
}

func TestEvalAndPrepare(t *testing.T) {
	env := New(Options{}).Extend(map[string]any{
		"double": Function(func(_ *exec.Evaluator, p *exec.VarArgs) (any, error) {
			return p.Args[0].Integer() * 2, nil
		}),
	})
	vars := map[string]any{"s": "123", "l": []any{1, "a"}, "n": nil}
	for src, want := range map[string]any{
		"{{ s }}":                 "123",
		"{{ l }}":                 []any{1, "a"},
		"{{ n }}":                 nil,
		"{{ double(2) }}":         4,
		"{{ 3 | double }}":        6,
		"{{ 'y' if n else 'z' }}": "z",
	} {
		tpl, err := env.Parse(src)
		require.NoError(t, err)
		require.True(t, tpl.IsExpression())
		got, err := tpl.Eval(vars)
		require.NoError(t, err, src)
		require.Equal(t, want, got, src)
		got, err = tpl.EvalVars(env.Prepare(map[string]any{"s": "123", "l": []any{1, "a"}, "n": nil}))
		require.NoError(t, err, src)
		require.Equal(t, want, got, src)
	}
	tpl, err := env.Parse("a {{ s }}")
	require.NoError(t, err)
	require.False(t, tpl.IsExpression())
	_, err = tpl.Eval(vars)
	require.ErrorIs(t, err, ErrNotExpression)
	out, err := tpl.RenderVars(env.Prepare(map[string]any{"s": "x"}))
	require.NoError(t, err)
	require.Equal(t, "a x", out)
	tpl, _ = env.Parse("{{ nope }}")
	_, err = tpl.Eval(vars)
	require.EqualError(t, err, "'nope' is undefined")
	// The base engine does not see the extension.
	_, err = New(Options{}).Render("{{ double(2) }}", nil)
	require.Error(t, err)
}

// Backslashes in string literals read as Python's Jinja reads them.
func TestPythonEscapes(t *testing.T) {
	env := New(Options{})
	for src, want := range map[string]string{
		`{{ "a\w" }}`:                            `a\w`,
		`{{ 'a\d+' }}`:                           `a\d+`,
		`{{ "a\\w" }}`:                           `a\w`,
		`{{ "tab\tnew" }}`:                       "tab\tnew",
		`{{ "q\"q" }}`:                           `q"q`,
		`x\w {{ "\." }} \d`:                      `x\w \. \d`,
		`{% raw %}{{ "\w" }}{% endraw %}`:        `{{ "\w" }}`,
		`{# "\w" #}{{ '\s' }}`:                   `\s`,
		`{{ "a1b" | regex_replace("\d", "#") }}`: "a#b",
		`{% if "\w" %}y{% endif %}`:              "y",
	} {
		out, err := env.Render(src, nil)
		require.NoError(t, err, src)
		require.Equal(t, want, out, src)
	}
}
