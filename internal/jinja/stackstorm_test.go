package jinja

import (
	"testing"
)

// stackstormContext is the context the expected outputs below were
// rendered with: Jinja2's SandboxedEnvironment configured as StackStorm's
// get_jinja_environment (StrictUndefined, trim_blocks, lstrip_blocks), with
// StackStorm's filter functions.
func stackstormContext() map[string]any {
	return map[string]any{
		"obj":  map[string]any{"b": []any{1, 2.5, "x"}, "a": map[string]any{"k": nil, "t": true}},
		"s":    "He said \"hi\"\n\tcaf\u00e9 \u2713",
		"n":    3,
		"f":    0.5,
		"lst":  []any{"a", "b"},
		"path": "/opt/packs/linux/actions/ping.sh",
		"v":    nil,
	}
}

// TestStackStormOutputs compares renders with what StackStorm's Jinja
// environment and filters gave for the same template and context.
func TestStackStormOutputs(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	for _, c := range []struct{ src, want string }{
		{"{{ obj | to_json_string(sort_keys=True) }}", "{\"a\": {\"k\": null,\"t\": true},\"b\": [1,2.5,\"x\"]}"},
		{"{{ obj | to_json_string(indent=2, sort_keys=True) }}", "{\n  \"a\": {\n    \"k\": null,\n    \"t\": true\n  },\n  \"b\": [\n    1,\n    2.5,\n    \"x\"\n  ]\n}"},
		{"{{ lst | to_json_string }}", "[\"a\",\"b\"]"},
		{"{{ s | to_json_string }}", "\"He said \\\"hi\\\"\\n\\tcaf\\u00e9 \\u2713\""},
		{"{{ obj | to_yaml_string }}", "a:\n  k: null\n  t: true\nb:\n- 1\n- 2.5\n- x\n"},
		{"{{ lst | to_yaml_string }}", "- a\n- b\n"},
		{"{{ {'x': {'y': [1, {'z': 'w'}]}, 'e': [], 'q': 'yes', 'num': '12'} | to_yaml_string }}", "e: []\nnum: '12'\nq: 'yes'\nx:\n  y:\n  - 1\n  - z: w\n"},
		{"{{ s | json_escape }}", "He said \\\"hi\\\"\\n\\tcaf\\u00e9 \\u2713"},
		{"{{ ('{\"a\": [1, 2]}' | from_json_string).a[1] }}", "2"},
		{"{{ ('a: 1\\nb: [x, y]' | from_yaml_string).b[0] }}", "x"},
		{"{{ obj.b | to_complex }}", "[1, 2.5, \"x\"]"},
		{"{{ v | use_none }}", "%*****__%NONE%__*****%"},
		{"{{ 'x' | use_none }}", "x"},
		{"{{ 'Hello World' | regex_match('hello', ignorecase=True) }}", "True"},
		{"{{ 'Hello World' | regex_match('World') }}", "False"},
		{"{{ 'Hello World' | regex_search('World') }}", "True"},
		{"{{ 'v1.2.3' | regex_replace('v(\\\\d+)\\\\.(\\\\d+)', 'r\\\\2.\\\\1') }}", "r2.1.3"},
		{"{{ 'a-b-c' | regex_replace('-', '$') }}", "a$b$c"},
		{"{{ 'id=42 id=7' | regex_substring('id=(\\\\d+)', 1) }}", "7"},
		{"{{ 'id=42 id=7' | regex_substring('id=\\\\d+') }}", "id=42"},
		{"{{ 0 | to_human_time_from_seconds }}", "0s"},
		{"{{ 59 | to_human_time_from_seconds }}", "59s"},
		{"{{ 3661 | to_human_time_from_seconds }}", "1h1m1s"},
		{"{{ 90061 | to_human_time_from_seconds }}", "1d1h1m1s"},
		{"{{ 3456000 | to_human_time_from_seconds }}", "9d0h0m0s"},
		{"{{ 31536000 | to_human_time_from_seconds }}", "1y0d0h0m0s"},
		{"{{ 0.5 | to_human_time_from_seconds }}", "0.5\u03bcs"},
		{"{{ 125.6 | to_human_time_from_seconds }}", "2m6s"},
		{"{{ path | basename }} {{ path | dirname }}", "ping.sh /opt/packs/linux/actions"},
		{"{{ 'file' | dirname }}|{{ '/' | dirname }}|{{ 'a/b/' | basename }}", "|/|"},
		{"{% for i in lst %}\n{{ i }}\n{% endfor %}\n", "a\nb\n"},
		{"  {% if n > 2 %}\nbig\n  {% endif %}\n", "big\n"},
		{"{{ n * 2 }} {{ f * 4 }} {{ n ~ 'x' }} {{ 'ab' * 2 }}", "6 2.0 3x abab"},
		{"{{ lst | join(',') }} {{ lst | length }} {{ n | string }} {{ '5' | int + 1 }}", "a,b 2 3 6"},
		{"{{ true }} {{ false }} {{ n is in([1,3]) }}", "True False True"},
		{"{{ obj.a.t }} {{ f }} {{ 2.0 }} {{ 1e20 }} {{ 0.00001 }}", "True 0.5 2.0 1e+20 1e-05"},
		{"{{ v }}|{{ obj.a.k }}|{{ v if v else \"-\" }}", "None|None|-"},
	} {
		got, err := e.Render(c.src, stackstormContext())
		if !assertNoError(t, err, c.src) {
			continue
		}
		if got != c.want {
			t.Errorf("%s\n got: %q\nwant: %q", c.src, got, c.want)
		}
	}
}

func assertNoError(t *testing.T, err error, what string) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return false
	}
	return true
}
