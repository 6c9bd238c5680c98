package jinja

import "testing"

func TestScratch(t *testing.T) {
	e := New(Options{})
	for _, src := range []string{
		"echo {{ count }} {{ host }}",
		"{{ x | to_json_string }}",
		"{{ x | to_yaml_string }}",
		"{{ 'a' * 3 }}-{{ 2 * 3 }}-{{ 'a' ~ 'b' }}",
		"{% for i in range(3) %}{{ i }}{% endfor %}",
		"{% set y = 'q' * 2 %}{{ y }}",
		"{{ st2kv.system.hello_st2.count }}|{{ st2kv.system.missing }}|{{ st2kv.system.a }}",
		"{{ 'abc' | regex_replace('b(c)', '\\\\1x') }}",
		"{{ none }}{{ x }}",
		"{{ undefined_var }}",
		"{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
		"{{ 'a' * 100000000 }}",
		"{% include 'x' %}",
		"{{ 3600 | to_human_time_from_seconds }}",
		"{{ '1.2.3' | version_bump_minor }}",
		"{{ x | jsonpath_query('a[*].b') }}",
		"{{ 1.0 }} {{ 0.1 + 0.2 }} {{ True }}",
	} {
		tpl, err := e.Parse(src)
		if err != nil {
			t.Logf("%q: parse: %v", src, err)
			continue
		}
		keys := &Keys{Scope: "st2kv.system", Values: map[string]any{"hello_st2.count": 3, "a": "A", "a.b": "AB"}}
		out, err := tpl.Render(map[string]any{"count": 3, "host": "h", "x": map[string]any{"a": []any{map[string]any{"b": 1}, map[string]any{"b": "é"}}}, "st2kv": map[string]any{"system": keys.Root()}})
		t.Logf("%q vars=%v -> %q err=%v", src, tpl.Variables(), out, err)
	}
}
