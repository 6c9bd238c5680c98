package yaql

import "testing"

// TestStackStormFunctions reproduces the documented outputs of StackStorm's
// examples pack workflows orquesta-test-yaql-{data,path,regex,time,version}-functions
// (st2tests/integration/orquesta/test_wiring_functions.py).
func TestStackStormFunctions(t *testing.T) {
	t.Parallel()
	obj := map[string]any{"foo": map[string]any{"bar": "foobar"}}
	ctx := mustOrquesta(t, map[string]any{
		"data_json_str_1": `{"foo": {"bar": "foobar"}}`,
		"data_json_obj_1": obj, "data_json_obj_2": obj, "data_json_obj_3": obj, "data_json_obj_4": obj,
		"data_yaml_str_1": "foo:\n  bar: foobar\n", "data_yaml_str_2": "foo:\n  bar: foobar\n",
		"none": nil,
	})
	cases := []struct {
		expr string
		want any
	}{
		{`<% ctx("data_json_str_1") %>`, `{"foo": {"bar": "foobar"}}`},
		{`<% from_json_string(ctx("data_json_str_1")) %>`, obj},
		{`<% to_yaml_string(ctx("data_json_obj_1")) %>`, "foo:\n  bar: foobar\n"},
		{`<% from_yaml_string(ctx("data_yaml_str_1")) %>`, obj},
		{`<% to_json_string(ctx("data_json_obj_2")) %>`, `{"foo": {"bar": "foobar"}}`},
		{`<% jsonpath_query(ctx("data_json_obj_2"), "$.foo.bar") %>`, []any{"foobar"}},
		{`<% json_parse(ctx("data_json_str_1")) %>`, obj},
		{`<% yaml_dump(ctx("data_json_obj_3")) %>`, "foo:\n  bar: foobar\n"},
		{`<% yaml_parse(ctx("data_yaml_str_2")) %>`, obj},
		{`<% json_dump(ctx("data_json_obj_4")) %>`, `{"foo": {"bar": "foobar"}}`},
		{`<% use_none(ctx("none")) %>`, "%*****__%NONE%__*****%"},
		{`<% use_none("foobar") %>`, "foobar"},
		{`<% basename("/path/to/some/file.txt") %>`, "file.txt"},
		{`<% dirname("/path/to/some/file.txt") %>`, "/path/to/some"},
		{`<% regex_match("xyz", "x") %>`, true},
		{`<% regex_replace("xyz", "x", "wx") %>`, "wxyz"},
		{`<% regex_search("xyz", "y") %>`, true},
		{`<% regex_substring("I live at 668 Infinite Dr", "([0-9]{3} \w+ (?:Ave|St|Dr))") %>`, "668 Infinite Dr"},
		{`<% to_human_time_from_seconds(12345) %>`, "3h25m45s"},
		{`<% version_compare("0.10.0", "0.10.0") %>`, int64(0)},
		{`<% version_compare("0.10.0", "0.10.1") %>`, int64(-1)},
		{`<% version_compare("0.10.1", "0.10.0") %>`, int64(1)},
		{`<% version_equal("0.10.0", "0.10.0") %>`, true},
		{`<% version_more_than("0.9.0", "0.10.0") %>`, false},
		{`<% version_less_than("0.10.0", "0.9.0") %>`, false},
		{`<% version_match("0.10.1", ">0.10.0") %>`, true},
		{`<% version_bump_major("0.10.0") %>`, "1.0.0"},
		{`<% version_bump_minor("0.10.0") %>`, "0.11.0"},
		{`<% version_bump_patch("0.10.0") %>`, "0.10.1"},
		{`<% version_strip_patch("0.10.0") %>`, "0.10"},
		// beyond the examples
		{`<% regex_match("xyz", "y") %>`, false},
		{`<% version_compare("1.0.0-alpha", "1.0.0") %>`, int64(-1)},
		{`<% to_json_string(dict(a => 1, b => [1, 'é'])) %>`, `{"a": 1,"b": [1,"\u00e9"]}`},
		{`<% to_complex(dict(a => 1, b => null)) %>`, `{"a": 1, "b": null}`},
		// json.dumps(v).strip('"') also eats the quote after the last backslash, as in StackStorm
		{`<% json_escape('say "hi"') %>`, `say \"hi\`},
		{`<% json_escape('a\nb') %>`, `a\nb`},
		{`<% jsonpath_query(dict(a => [dict(b => 1), dict(b => 2)]), "$.a[*].b") %>`, []any{int64(1), int64(2)}},
		{`<% jsonpath_query(dict(a => [dict(b => 1), dict(c => dict(b => 2))]), "$..b") %>`, []any{int64(1), int64(2)}},
		{`<% jsonpath_query(dict(a => 1), "$.missing") %>`, nil},
		{`<% to_human_time_from_seconds(0) %>`, "0s"},
		{`<% to_human_time_from_seconds(90061) %>`, "1d1h1m1s"},
		{`<% dirname("file") %>`, ""},
		{`<% dirname("/file") %>`, "/"},
		// PyYAML's safe_dump layout (the jinja data-functions example documents the first)
		{`<% to_yaml_string([{a=>1,b=>2},{x=>3,y=>4}]) %>`, "- a: 1\n  b: 2\n- x: 3\n  y: 4\n"},
		{`<% to_yaml_string({k => [1, [2, 3]], f => 1.0, s => 'yes', e => '', n => null, m => {x => {}}}) %>`,
			"e: ''\nf: 1.0\nk:\n- 1\n- - 2\n  - 3\nm:\n  x: {}\nn: null\ns: 'yes'\n"},
		{`<% to_yaml_string([{k => [1, 2], s => 'a: b'}]) %>`, "- k:\n  - 1\n  - 2\n  s: 'a: b'\n"},
		{`<% to_yaml_string('plain') %>`, "plain\n...\n"},
		// PyYAML folds a multi-line string in single quotes; double quotes read back the same
		{`<% to_yaml_string('two\nlines') %>`, "\"two\\nlines\"\n"},
		{`<% from_yaml_string(to_yaml_string({k => [1, 'x y', '123', true, 1.5]})) %>`, map[string]any{"k": []any{1, "x y", "123", true, 1.5}}},
	}
	for _, tc := range cases {
		got, err := Render(tc.expr, ctx)
		want, _ := Normalize(tc.want)
		if err != nil || !equal(got, want) {
			t.Errorf("%s: got %q, %v; want %q", tc.expr, pyStr(got), err, pyStr(want))
		}
	}
}
