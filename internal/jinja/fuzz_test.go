package jinja

import (
	"testing"
	"time"

	"github.com/attune-io/attune/internal/param"
)

// FuzzRender: no template panics, hangs or grows past the limits,
// whatever its source.
func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"echo {{ count }} {{ host }}", "{% for i in range(n) %}{{ i * s }}{% endfor %}",
		"{{ s * 100000 }}", "{% set x = s %}{% for i in range(50) %}{% set x = x ~ x %}{% endfor %}{{ x }}",
		"{{ obj | to_json_string(indent=2) }}", "{{ obj | to_yaml_string }}", "{{ s | regex_replace('(a+)+$', '\\\\1') }}",
		"{{ st2kv.system.a.b.c }}", "{{ 1e308 * 10 }}{{ -1 ** 0.5 }}", "{{ n // 0 }}", "{{ s[::-1] }}", "{% raw %}{{{% endraw %}",
		"{{ lst | batch(3) | list }}", "{{ '%s' | format(s) }}", "{{ obj.missing | default('x') }}",
		`{{ s | regex_match("\w+ (?:a|b)\.") }}`, `{# "\w" #}{% raw %}"\d"{% endraw %}{{ '\\\'' }}`, `{{ "\`,
	} {
		f.Add(s)
	}
	e := New(Options{MaxOutput: 1 << 16, MaxLoop: 2000})
	f.Fuzz(func(t *testing.T, src string) {
		ctx := map[string]any{
			"count": 3, "host": "h", "n": 5, "s": "ab", "lst": []any{1, "x", nil},
			"obj":   map[string]any{"a": []any{1.5, true}, "b": map[string]any{"c": "d"}},
			"st2kv": testKeys(),
		}
		start := time.Now()
		out, err := e.Render(src, ctx)
		if err == nil && len(out) > 1<<16 {
			t.Fatalf("output of %d bytes passed the limit", len(out))
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("render took %s", d)
		}
	})
}

// FuzzRenderParams: parameter sets never panic, whatever their values.
func FuzzRenderParams(f *testing.F) {
	f.Add("{{ b }}", "{{ a }}", "x")
	f.Add("{{ b | int }}", "{{ c }}", "3")
	f.Add("[{{ c }}]", "{% if c %}{{ c }}{% endif %}", "{{ a }}")
	schema := param.Schema{"a": {Type: param.TypeString}, "b": {Type: param.TypeInteger}, "c": {Type: param.TypeAny}}
	e := New(Options{MaxOutput: 1 << 16, MaxLoop: 2000})
	f.Fuzz(func(t *testing.T, a, b, c string) {
		_, _ = e.RenderParams(map[string]any{"a": a, "b": b, "c": []any{c, map[string]any{"k": c}}}, schema,
			map[string]any{"st2kv": testKeys(), "config_context": map[string]any{"k": "v"}})
	})
}
