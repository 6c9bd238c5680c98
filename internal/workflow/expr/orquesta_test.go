package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/workflow/spec"
)

// evalCase is one expression, the variables it sees and what it yields (or the error text
// it fails with).
type evalCase struct {
	name string
	expr any
	vars map[string]any
	want any
	err  string
}

var testEnv = jinja.New(jinja.Options{})

func runCases(t *testing.T, lang spec.Language, sc func(vars map[string]any) *Scope, cases []evalCase) {
	t.Helper()
	e := New(lang, testEnv)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.Render(c.expr, sc(c.vars))
			if c.err != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), c.err)
				var ee *Error
				require.True(t, errors.As(err, &ee), "errors are *Error: %T", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func varsScope(vars map[string]any) *Scope { return &Scope{Vars: vars} }

// Orquesta's expression tests (orquesta/tests/unit/expressions: test_jinja_eval_*,
// test_facade_*_evaluate, test_*_eval_custom_function, test_jinja_eval_raw_blocks), written
// as one table run in both languages where Orquesta runs them in both.
func TestOrquestaEvaluate(t *testing.T) {
	fee := func(d string) map[string]any {
		return map[string]any{"fee": "{{ ctx().fi }}", "fi": "{{ ctx().fo }}", "fo": "{{ ctx().fum }}", "fum": "fee-fi-fo-fum" + d}
	}
	typed := map[string]any{"k1": 101, "k2": 1.999, "k3": true, "k4": []any{1, 2}, "k5": map[string]any{"k": "v"}, "k6": nil}
	cases := []evalCase{
		{name: "basic", expr: `{{ ctx("foo") }}`, vars: map[string]any{"foo": "bar"}, want: "bar"},
		{name: "basic dot", expr: "{{ ctx().foo }}", vars: map[string]any{"foo": "bar"}, want: "bar"},
		{name: "text around", expr: "foo{{ ctx().foo }}", vars: map[string]any{"foo": "bar"}, want: "foobar"},
		{name: "undefined by arg", expr: `{{ ctx("foo") }}`, vars: map[string]any{}, err: `Unable to evaluate expression '{{ ctx("foo") }}'. VariableUndefinedError: The variable "foo" is undefined.`},
		{name: "undefined by dot", expr: "{{ ctx().foo }}", vars: map[string]any{}, err: "Unable to evaluate expression '{{ ctx().foo }}'. the value has no attribute 'foo'"},
		{name: "private", expr: "{{ ctx('__state') }}", vars: map[string]any{"__state": 1}, err: `VariableInaccessibleError: The variable "__state" is for internal use and inaccessible.`},
		{name: "ctx hides private", expr: "{{ ctx() }}", vars: map[string]any{"a": 1, "__state": map[string]any{"x": 1}}, want: map[string]any{"a": int64(1)}},
		{name: "nested", expr: `{{ ctx(ctx("foo")) }}`, vars: map[string]any{"foo": "bar", "bar": "foobar"}, want: "foobar"},
		{name: "dict", expr: `{{ ctx("nested").foo }}`, vars: map[string]any{"nested": map[string]any{"foo": "bar"}}, want: "bar"},
		{name: "dict dot", expr: "{{ ctx().nested.foo }}", vars: map[string]any{"nested": map[string]any{"foo": "bar"}}, want: "bar"},
		{name: "multi", expr: `{{ ctx("foo") }} and {{ ctx("marco") }}`, vars: map[string]any{"foo": "bar", "marco": "polo"}, want: "bar and polo"},
		{name: "recursive", expr: "{{ ctx().fee }}", vars: fee(""), want: "fee-fi-fo-fum"},
		{name: "recursive undefined", expr: "{{ ctx().fee }}", vars: map[string]any{"fee": "{{ ctx().fi }}", "fi": "{{ ctx().fo }}", "fo": "{{ ctx().fum }}"}, err: "Unable to evaluate expression '{{ ctx().fum }}'"},
		{name: "multi recursive", expr: "{{ ctx().fee }} {{ ctx().im }}", vars: func() map[string]any {
			v := fee("!")
			v["im"], v["hungry"] = "{{ ctx().hungry }}", "i'm hungry!"
			return v
		}(), want: "fee-fi-fo-fum! i'm hungry!"},
		{name: "type int", expr: "{{ ctx().k1 }}", vars: typed, want: int64(101)},
		{name: "type float", expr: `{{ ctx("k2") }}`, vars: typed, want: 1.999},
		{name: "type bool", expr: "{{ ctx().k3 }}", vars: typed, want: true},
		{name: "type list", expr: "{{ ctx().k4 }}", vars: typed, want: []any{int64(1), int64(2)}},
		{name: "type dict", expr: "{{ ctx().k5 }}", vars: typed, want: map[string]any{"k": "v"}},
		{name: "type none", expr: "{{ ctx().k6 }}", vars: typed, want: nil},
		{name: "string stays string", expr: "{{ ctx().s }}", vars: map[string]any{"s": "123"}, want: "123"},
		{name: "json-looking string stays string", expr: "{{ ctx().s }}", vars: map[string]any{"s": `{"a": 1}`}, want: `{"a": 1}`},
		{name: "type string detection", expr: "{{ ctx().foo }} -> {{ ctx().bar }}", vars: map[string]any{"foo": 101, "bar": 201}, want: "101 -> 201"},
		{name: "python str in text", expr: "{{ ctx().l }} {{ ctx().d }} {{ ctx().n }} {{ ctx().b }} {{ ctx().f }}",
			vars: map[string]any{"l": []any{1, "a"}, "d": map[string]any{"k": "v"}, "n": nil, "b": true, "f": 1.5}, want: "[1, 'a'] {'k': 'v'} None True 1.5"},
		{name: "computed float stays float", expr: "{{ 4 / 2 }} {{ 4 / 2 + 1 }}", want: "2.0 3.0"},
		{name: "computed float typed", expr: "{{ 3 / 2 }}", want: 1.5},
		{name: "whole float from JSON is int", expr: "{{ ctx().n + 1 }}", vars: map[string]any{"n": float64(3)}, want: int64(4)},
		{name: "custom function", expr: `{{ json('{"a": 123}') }}`, want: map[string]any{"a": int64(123)}},
		{name: "custom function failure", expr: "{{ json(123) }}", err: "TypeError: Given object is not typeof string."},
		{name: "undefined name", expr: "{{ foo }}", err: "Unable to evaluate expression '{{ foo }}'. 'foo' is undefined"},
		{name: "syntax error", expr: "{{ ctx( }}", err: "Unable to evaluate expression '{{ ctx( }}'. template syntax error"},
		{name: "not an expression", expr: "{{", want: "{{"},
		{name: "plain text", expr: "just text", want: "just text"},
		{name: "legacy underscore", expr: "{{ _.foo }}", vars: map[string]any{"foo": "bar"}, want: "bar"},
		{name: "in ctx", expr: "{{ 'foo' in ctx() }}", vars: map[string]any{"foo": "bar"}, want: true},
		{name: "filters", expr: "{{ ctx().l | join(',') }}", vars: map[string]any{"l": []any{"a", "b"}}, want: "a,b"},
		{name: "inline if", expr: "{{ 'y' if ctx().b else 'n' }}", vars: map[string]any{"b": false}, want: "n"},

		// Blocks and raw blocks.
		{name: "block", expr: "{% for i in ctx().x %}{{ i }}{% endfor %}", vars: map[string]any{"x": []any{"a", "b", "c"}}, want: "abc"},
		{name: "block complex data", expr: "{% for i in ctx().x %}{{ i.k }}{{ ctx().z }}{% endfor %}",
			vars: map[string]any{"x": []any{map[string]any{"k": "a"}, map[string]any{"k": "b"}, map[string]any{"k": "c"}}, "z": "->"}, want: "a->b->c->"},
		{name: "block undefined", expr: "{% for i in ctx().x %}{{ ctx().y }}{% endfor %}", vars: map[string]any{"x": []any{"a"}}, err: "Unable to evaluate expression"},
		{name: "block recursive", expr: "{% for i in ctx().x %}{{ i }}{% endfor %}", vars: map[string]any{
			"x": []any{"{{ ctx().a }}", "{{ ctx().b }}", "{{ ctx().c }}{% for j in ctx().y %}{{ j }}{% endfor %}"},
			"a": "a", "b": "b", "c": "c", "y": []any{"d", "e", "f"}}, want: "abcdef"},
		{name: "multi block", expr: "{% for i in ctx().x %}{{ i }}{% endfor %}{% for i in ctx().y %}{{ i }}{% endfor %}",
			vars: map[string]any{"x": []any{"a", "b", "c"}, "y": []any{"d", "e", "f"}}, want: "abcdef"},
		{name: "raw block", expr: "{% raw %}{{ ctx().foo }}{% endraw %}", vars: map[string]any{"foo": "bar"}, want: "{{ ctx().foo }}"},
		{name: "multi raw blocks", expr: "{% raw %}{{ ctx().foo }}{% endraw %} and {% raw %}{{ ctx().bar }}{% endraw %} and {% raw %}foobar{% endraw %}",
			vars: map[string]any{"foo": "bar"}, want: "{{ ctx().foo }} and {{ ctx().bar }} and foobar"},
		{name: "mix block and expr", expr: "{{ ctx().a }}{% for i in ctx().x %}{{ i }}{% endfor %}{{ ctx().d }} and {% raw %}{{ 1234 }}{% endraw %}",
			vars: map[string]any{"x": []any{"b", "c"}, "a": "a", "d": "d"}, want: "abcd and {{ 1234 }}"},

		// Lists and dicts, keys too (test_facade_jinja_evaluate).
		{name: "list", expr: []any{"{{ ctx().foo }}", "{{ ctx().marco }}", "foo{{ ctx().foo }}"}, vars: map[string]any{"foo": "bar", "marco": "polo"}, want: []any{"bar", "polo", "foobar"}},
		{name: "list of dict", expr: []any{map[string]any{"foo": "{{ ctx().bar }}", "{{ ctx().marco }}": "polo"}},
			vars: map[string]any{"bar": "bar", "marco": "marco"}, want: []any{map[string]any{"foo": "bar", "marco": "polo"}}},
		{name: "dict of list", expr: map[string]any{"nested": []any{"{{ ctx().foo }}", 3}}, vars: map[string]any{"foo": "bar"}, want: map[string]any{"nested": []any{"bar", int64(3)}}},
	}
	runCases(t, spec.Orquesta, varsScope, cases)

	// The same in YAQL.
	var yaqlCases []evalCase
	for _, c := range cases {
		s, ok := c.expr.(string)
		if !ok || strings.Contains(s, "{%") || strings.Contains(c.name, "legacy") || strings.Contains(c.name, "filters") ||
			strings.Contains(c.name, "inline") || strings.Contains(c.name, "computed") || c.name == "in ctx" || c.name == "not an expression" || c.name == "undefined name" || c.name == "syntax error" {
			continue
		}
		c.expr = strings.NewReplacer("{{", "<%", "}}", "%>").Replace(s)
		c.err = strings.TrimSuffix(strings.NewReplacer("{{", "<%", "}}", "%>").Replace(c.err), ".")
		switch c.name {
		case "custom function failure":
			c.err = "json(): the value is not a string"
		case "undefined by dot":
			c.err = `Unable to evaluate expression '<% ctx().foo %>'. key "foo" not found`
		}
		if c.vars != nil {
			v := map[string]any{}
			for k, x := range c.vars {
				if s, ok := x.(string); ok {
					x = strings.NewReplacer("{{", "<%", "}}", "%>").Replace(s)
				}
				v[k] = x
			}
			c.vars = v
		}
		yaqlCases = append(yaqlCases, c)
	}
	yaqlCases = append(yaqlCases,
		evalCase{name: "distinct", expr: "<% ctx(val).distinct() %>", vars: map[string]any{"val": []any{1, 2, 3, 1}}, want: []any{int64(1), int64(2), int64(3)}},
		evalCase{name: "distinct dicts", expr: "<% ctx(val).distinct() %>", vars: map[string]any{"val": []any{map[string]any{"a": 1}, map[string]any{"b": 2}, map[string]any{"a": 1}}},
			want: []any{map[string]any{"a": int64(1)}, map[string]any{"b": int64(2)}}},
		evalCase{name: "distinct selector", expr: "<% ctx(val).distinct($[1]) %>", vars: map[string]any{"val": []any{[]any{"a", 1}, []any{"b", 2}, []any{"c", 1}, []any{"a", 3}}},
			want: []any{[]any{"a", int64(1)}, []any{"b", int64(2)}, []any{"a", int64(3)}}},
		evalCase{name: "select where", expr: "<% ctx().l.where($ > 1).select($ * 10) %>", vars: map[string]any{"l": []any{1, 2, 3}}, want: []any{int64(20), int64(30)}},
		evalCase{name: "yaql syntax error", expr: "<% ctx( %>", err: "Unable to evaluate expression '<% ctx( %>'"},
		evalCase{name: "yaql list", expr: []any{"<% ctx().foo %>", map[string]any{"<% ctx().k %>": "<% ctx().foo %>x"}}, vars: map[string]any{"foo": "bar", "k": "key"},
			want: []any{"bar", map[string]any{"key": "barx"}}},
		evalCase{name: "jinja is text in yaql text", expr: "<% ctx().a %> {{ x }}", vars: map[string]any{"a": 1}, want: "1 {{ x }}"},
	)
	t.Run("yaql", func(t *testing.T) { runCases(t, spec.Orquesta, varsScope, yaqlCases) })
}

// The workflow functions (orquesta/tests/unit/expressions/functions), in both languages.
func TestOrquestaFunctions(t *testing.T) {
	sc := func(status string, result any) func(map[string]any) *Scope {
		return func(vars map[string]any) *Scope {
			return &Scope{
				Vars: vars,
				Tasks: map[string]TaskState{"t1": {Status: StatusRunning}, "t2": {Status: StatusSucceeded, Result: "r2"},
					"each": {Status: StatusSucceeded, Result: []any{map[string]any{"stdout": "a"}, map[string]any{"stdout": "b"}},
						Items: []TaskState{{Status: StatusSucceeded, Result: map[string]any{"stdout": "a"}}, {Status: StatusFailed, Result: map[string]any{"stdout": "b"}}}}},
				Current:     &TaskState{Status: status, Result: result},
				CurrentName: "t3",
				St2:         map[string]any{"workflow_execution_id": "wf1", "user": "stanley"},
			}
		}
	}
	both := func(cases []evalCase) []evalCase {
		out := append([]evalCase(nil), cases...)
		for _, c := range cases {
			if x := c.expr.(string); strings.Contains(x, "None") || strings.Contains(x, "=") || strings.Contains(x, "|") || strings.Contains(x, "zip()") {
				continue // Jinja spelling
			}
			c.name += " yaql"
			c.expr = strings.NewReplacer("{{", "<%", "}}", "%>", "'", "'").Replace(c.expr.(string))
			out = append(out, c)
		}
		return out
	}
	runCases(t, spec.Orquesta, sc(StatusSucceeded, map[string]any{"stdout": "hi", "n": 2}), both([]evalCase{
		{name: "result", expr: "{{ result() }}", want: map[string]any{"stdout": "hi", "n": int64(2)}},
		{name: "result field", expr: "{{ result().stdout }}", want: "hi"},
		{name: "succeeded", expr: "{{ succeeded() }}", want: true},
		{name: "failed", expr: "{{ failed() }}", want: false},
		{name: "completed", expr: "{{ completed() }}", want: true},
		{name: "task_status running", expr: "{{ task_status('t1') }}", want: StatusRunning},
		{name: "task_status succeeded", expr: "{{ task_status('t2') }}", want: StatusSucceeded},
		{name: "task_status unset", expr: "{{ task_status('nope') }}", want: "null"},
		{name: "task", expr: "{{ task('t2').result }}", want: "r2"},
		{name: "task status", expr: "{{ task('t2').status }}", want: StatusSucceeded},
		{name: "task of current", expr: "{{ task().task_name }}", want: "t3"},
		{name: "task current result", expr: "{{ task().result.stdout }}", want: "hi"},
		{name: "task with items", expr: "{{ task('each').result['items'] | map(attribute='status') | list }}", want: []any{StatusSucceeded, StatusFailed}},
		{name: "st2 api_url", expr: "{{ ctx('st2').user }}", want: "stanley"},
		{name: "task unknown", expr: "{{ task('nope') }}", err: `Unable to find task execution for "nope".`},
		{name: "st2 context", expr: "{{ ctx().st2.user }}", want: "stanley"},
		{name: "zip empty", expr: "{{ zip() }}", want: []any{}},
		{name: "zip null", expr: "{{ zip(None) }}", want: []any{}},
		{name: "zip single", expr: "{{ zip([1, 2, 3]) }}", want: []any{int64(1), int64(2), int64(3)}},
		{name: "zip double", expr: "{{ zip([1, 2], ['a', 'b']) }}", want: []any{[]any{int64(1), "a"}, []any{int64(2), "b"}}},
		{name: "zip longest", expr: "{{ zip([1, 2, 3], ['a']) }}", want: []any{[]any{int64(1), "a"}, []any{int64(2), nil}, []any{int64(3), nil}}},
		{name: "zip pad", expr: "{{ zip([], ['a', 'b'], pad='z') }}", want: []any{[]any{"z", "a"}, []any{"z", "b"}}},
		{name: "task items yaql", expr: "<% task(each).result.items.select($.result.stdout) %>", want: []any{"a", "b"}},
		{name: "task bare name yaql", expr: "<% task(t2).result %>", want: "r2"},
		{name: "st2 ctx yaql", expr: "<% ctx(st2).user %>/<% ctx(st2).workflow_execution_id %>", want: "stanley/wf1"},
		{name: "zip pad yaql", expr: "<% zip([], ['a', 'b'], pad => 'z') %>", want: []any{[]any{"z", "a"}, []any{"z", "b"}}},
		{name: "zip null yaql", expr: "<% zip(null) %>", want: []any{}},
		{name: "json list", expr: `{{ json('[5, 3, 5, 4]') }}`, want: []any{int64(5), int64(3), int64(5), int64(4)}},
		{name: "json dict passes", expr: `{{ json(json('{"k1": "v1"}')) }}`, want: map[string]any{"k1": "v1"}},
		{name: "from_json_string", expr: `{{ from_json_string('{"a": [1]}') }}`, want: map[string]any{"a": []any{int64(1)}}},
		{name: "function as filter", expr: `{{ '{"a": 1}' | json }}`, want: map[string]any{"a": int64(1)}},
		{name: "alias as filter", expr: `{{ ctx().st2 | json_dump }}`, want: `{"user": "stanley","workflow_execution_id": "wf1"}`}, // st2's separators (",", ": ")
		{name: "json_parse", expr: `{{ json_parse('[true]') }}`, want: []any{true}},
		{name: "regex_match", expr: "{{ regex_match('v1.2', '^v[0-9]') }}", want: true},
		{name: "regex_replace", expr: "{{ regex_replace('a1b2', '[0-9]', 'x') }}", want: "axbx"},
		{name: "regex_substring", expr: "{{ regex_substring('v1.2.3', '([0-9]+)') }}", want: "1"},
		{name: "version_compare", expr: "{{ version_compare('1.2.0', '1.10.0') }}", want: int64(-1)},
		{name: "version_more_than", expr: "{{ version_more_than('1.10.0', '1.2.0') }}", want: true},
		{name: "version_bump_minor", expr: "{{ version_bump_minor('1.2.3') }}", want: "1.3.0"},
		{name: "basename", expr: "{{ basename('/a/b/c.txt') }}", want: "c.txt"},
		{name: "dirname", expr: "{{ dirname('/a/b/c.txt') }}", want: "/a/b"},
		{name: "use_none", expr: "{{ use_none(None) }}", want: "%*****__%NONE%__*****%"},
		{name: "to_human_time_from_seconds", expr: "{{ to_human_time_from_seconds(3661) }}", want: "1h1m1s"},
	}))
	runCases(t, spec.Orquesta, sc(StatusFailed, nil), both([]evalCase{
		{name: "failed", expr: "{{ failed() }}", want: true},
		{name: "succeeded", expr: "{{ succeeded() }}", want: false},
		{name: "completed", expr: "{{ completed() }}", want: true},
	}))
	// A timed-out task is "timeout": Orquesta's failed() is false for it, completed() true.
	runCases(t, spec.Orquesta, sc(StatusTimedOut, nil), both([]evalCase{
		{name: "failed", expr: "{{ failed() }}", want: false},
		{name: "completed", expr: "{{ completed() }}", want: true},
	}))
	runCases(t, spec.Orquesta, sc(StatusRunning, nil), both([]evalCase{
		{name: "completed", expr: "{{ completed() }}", want: false},
		{name: "succeeded", expr: "{{ succeeded() }}", want: false},
	}))
	// Outside a task's transitions.
	runCases(t, spec.Orquesta, varsScope, both([]evalCase{
		{name: "result without task", expr: "{{ result() }}", err: "The current task is not set in the context."},
		{name: "succeeded without task", expr: "{{ succeeded() }}", err: "The current task is not set in the context."},
		{name: "item outside with-items", expr: "{{ item() }}", want: nil},
		{name: "task_status unset", expr: "{{ task_status('t1') }}", want: "null"},
	}))
}

func TestOrquestaItems(t *testing.T) {
	scope := func(item any, named map[string]any) func(map[string]any) *Scope {
		return func(vars map[string]any) *Scope {
			return &Scope{Vars: vars, HasItem: true, Item: item, ItemVars: named}
		}
	}
	for _, lang := range []string{"jinja", "yaql"} {
		conv := func(cases []evalCase) []evalCase {
			if lang == "jinja" {
				return cases
			}
			out := make([]evalCase, len(cases))
			for i, c := range cases {
				c.expr = strings.NewReplacer("{{", "<%", "}}", "%>").Replace(c.expr.(string))
				out[i] = c
			}
			return out
		}
		t.Run(lang, func(t *testing.T) {
			runCases(t, spec.Orquesta, scope("foobar", nil), conv([]evalCase{
				{name: "item", expr: "{{ item() }}", want: "foobar"},
				{name: "item not a dict", expr: "{{ item('foo') }}", err: "Item is not type of collections.abc.Mapping."},
			}))
			runCases(t, spec.Orquesta, scope(nil, nil), conv([]evalCase{
				{name: "item null", expr: "{{ item() }}", want: nil},
			}))
			runCases(t, spec.Orquesta, scope(map[string]any{"foo": "bar"}, nil), conv([]evalCase{
				{name: "item dict", expr: "{{ item() }}", want: map[string]any{"foo": "bar"}},
				{name: "item key", expr: "{{ item('foo') }}", want: "bar"},
				{name: "item bad key", expr: "{{ item('bar') }}", err: `Item does not have key "bar".`},
			}))
			runCases(t, spec.Orquesta, scope(map[string]any{"x": 1, "y": "a"}, map[string]any{"x": 1, "y": "a"}), conv([]evalCase{
				{name: "named item vars", expr: "{{ item('x') }}-{{ item('y') }}", want: "1-a"},
			}))
		})
	}
}

func TestOrquestaKV(t *testing.T) {
	var asked []string
	sc := func(vars map[string]any) *Scope {
		return &Scope{Vars: vars, KV: func(key string, decrypt bool) (any, error) {
			asked = append(asked, key)
			switch key {
			case "system.region":
				return "eu", nil
			case "system.secret":
				if decrypt {
					return "plain", nil
				}
				return "cipher", nil
			case "mine":
				return 5, nil
			}
			return nil, errors.Join(ErrKeyNotFound, errors.New(`key "`+key+`" not found`))
		}}
	}
	cases := []evalCase{
		{name: "system", expr: "{{ st2kv('system.region') }}", want: "eu"},
		{name: "user", expr: "{{ st2kv('mine') }}", want: int64(5)},
		{name: "decrypt", expr: "{{ st2kv('system.secret', decrypt=true) }}", want: "plain"},
		{name: "no decrypt", expr: "{{ st2kv('system.secret') }}", want: "cipher"},
		{name: "missing", expr: "{{ st2kv('system.nope') }}", err: `key "system.nope" not found`},
		{name: "default", expr: "{{ st2kv('system.nope', default='d') }}", want: "d"},
		{name: "bad key", expr: "{{ st2kv(1) }}", err: "TypeError: Given key is not typeof string."},
		{name: "bad decrypt", expr: "{{ st2kv('mine', decrypt='yes') }}", err: "TypeError: Decrypt parameter is not typeof bool."},
		{name: "yaql", expr: "<% st2kv('system.region') %>", want: "eu"},
		{name: "yaql decrypt", expr: "<% st2kv('system.secret', decrypt => true) %>", want: "plain"},
		{name: "yaql default", expr: "<% st2kv('system.nope', default => 'd') %>", want: "d"},
	}
	runCases(t, spec.Orquesta, sc, cases)
	_, err := New(spec.Orquesta, testEnv).Render("{{ st2kv('x') }}", &Scope{})
	require.ErrorContains(t, err, "key-value store is not available")
}

func TestTruth(t *testing.T) {
	for _, lang := range []spec.Language{spec.Orquesta, spec.Attune, spec.ActionChain} {
		e := New(lang, testEnv)
		cur := func(status string) *Scope {
			return &Scope{Vars: map[string]any{"s": "False", "z": 0, "l": []any{}}, Current: &TaskState{Status: status}}
		}
		for _, c := range []struct {
			text   string
			status string
			want   bool
		}{
			{"", StatusFailed, true},
			{"  ", StatusFailed, true},
			{"{{ succeeded() }}", StatusSucceeded, true},
			{"{{ succeeded() }}", StatusFailed, false},
			{"{{ failed() }}", StatusFailed, true},
			{"{{ failed() }}", StatusSucceeded, false},
			{"{{ 'False' }}", StatusSucceeded, true},
			{"{{ [] }}", StatusSucceeded, false},
			{"{{ 0 }}", StatusSucceeded, false},
			{"{{ None }}", StatusSucceeded, false},
			{"{{ succeeded() and 1 > 2 }}", StatusSucceeded, false},
		} {
			got, err := e.Truth(c.text, cur(c.status))
			require.NoError(t, err, "%s %q", lang, c.text)
			require.Equal(t, c.want, got, "%s %q", lang, c.text)
		}
	}
	e := New(spec.Orquesta, testEnv)
	for text, want := range map[string]bool{"<% succeeded() %>": true, "<% failed() %>": false, "<% ctx().z %>": false, "<% ctx().l %>": false, "<% ctx().s %>": true} {
		got, err := e.Truth(text, &Scope{Vars: map[string]any{"s": "False", "z": 0, "l": []any{}}, Current: &TaskState{Status: StatusSucceeded}})
		require.NoError(t, err, text)
		require.Equal(t, want, got, text)
	}
	_, err := e.Truth("{{ nope }}", &Scope{})
	require.ErrorContains(t, err, "Unable to evaluate expression '{{ nope }}'")
}

func TestValidate(t *testing.T) {
	e := New(spec.Orquesta, testEnv)
	require.Empty(t, e.Validate("{{ ctx().a }} and {{ result().x | default(1) }}"))
	require.Empty(t, e.Validate("<% ctx().a.select($) %>"))
	require.Empty(t, e.Validate("{% for i in ctx().x %}{{ i }}{% endfor %}{% raw %}{{ ( {% endraw %}"))
	require.Len(t, e.Validate("<% ctx( %>"), 1)
	errs := e.Validate("{{ ctx( }}")
	require.Len(t, errs, 1)
	require.Contains(t, errs[0].Error(), "{{ ctx( }}")
	require.Len(t, e.Validate("{% for i in x %}"), 1)
	require.Empty(t, New(spec.Attune, testEnv).Validate("<% ctx( %>"), "YAQL is text outside Orquesta")
	require.Len(t, New(spec.ActionChain, testEnv).Validate("{{ a + }}"), 1)
}

func TestNilScope(t *testing.T) {
	for _, lang := range []spec.Language{spec.Orquesta, spec.Attune, spec.ActionChain} {
		e := New(lang, nil)
		v, err := e.Render("{{ 1 + 1 }}", nil)
		require.NoError(t, err)
		if lang == spec.ActionChain {
			require.Equal(t, "2", v)
		} else {
			require.Equal(t, int64(2), v)
		}
		_, err = e.Render("{{ result() }}", nil)
		require.ErrorContains(t, err, "The current task is not set in the context.")
	}
}
