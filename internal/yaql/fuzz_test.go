package yaql

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

// FuzzEvaluate runs arbitrary expressions: none may panic, hang or return a
// value that is not plain data, and every failure is an *Error naming the
// expression. Run with: go test -fuzz FuzzEvaluate ./internal/yaql
func FuzzEvaluate(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		ctx, err := NewOrquestaContext(map[string]any{
			"list": []any{1, 2.5, "a", nil, true, []any{1}, map[string]any{"k": "v"}},
			"dict": map[string]any{"a": 1, "b": []any{"x"}}, "s": "text",
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx.SetLimits(Limits{MaxSteps: 200_000, MaxDepth: 100, MaxItems: 20_000, MaxStringLen: 1 << 16, MaxExprLen: 4096})
		if err := ctx.Set("$", map[string]any{"x": []any{1, 2, 3}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		v, err := Evaluate(expr, ctx)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("%q took %v", expr, d)
		}
		if err != nil {
			var ye *Error
			if !errors.As(err, &ye) {
				t.Fatalf("%q: error is not an *Error: %v", expr, err)
			}
			return
		}
		if _, err := json.Marshal(v); err != nil && !isNaNError(v) {
			t.Fatalf("%q: result %#v is not plain data: %v", expr, v, err)
		}
		if _, err := Render("<% "+expr+" %> and <% 1 %>", ctx); err != nil {
			var ye *Error
			if !errors.As(err, &ye) && !errors.Is(err, ErrLimit) {
				t.Fatalf("%q: render error is not an *Error: %v", expr, err)
			}
		}
	})
}

// isNaNError tells results JSON cannot hold (NaN, ±Inf from float arithmetic).
func isNaNError(v any) bool {
	switch x := v.(type) {
	case float64:
		return x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308
	case []any:
		for _, e := range x {
			if isNaNError(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if isNaNError(e) {
				return true
			}
		}
	}
	return false
}

func fuzzSeeds(f *testing.F) []string {
	seeds := []string{
		"ctx().list.where($ != null).select(str($))",
		"ctx(dict).keys().join(',')",
		"let(a => 1) -> $a + 1",
		"def(f, $ * 2) -> [1, 2].select(f($))",
		"$.x.orderByDescending($).thenBy($)",
		"regex('(a)(b)?').searchAll('abab a', $2.value)",
		"'a{0}'.format(ctx().s)",
		"switch($.x.len() > 2 => 'big', true => 'small')",
		"[1, 2] * 3 + [4]",
		"{a => [1, {b => 2}]}.mergeWith({a => [3]})",
		"$?.x?.len()",
		`jsonpath_query(ctx(dict), "$..b[0]")`,
		`to_json_string(ctx(list), 2)`,
		`from_yaml_string(to_yaml_string(ctx(dict)))`,
		`regex_substring("a1b2", "([a-z])([0-9])", 1)`,
		`version_match("1.2.3-rc.1", "<=1.2.3")`,
	}
	data, err := os.ReadFile("testdata/yaql_cases.json")
	if err != nil {
		f.Fatal(err)
	}
	var cases []yaqlCase
	if err := json.Unmarshal(data, &cases); err != nil {
		f.Fatal(err)
	}
	for _, c := range cases {
		seeds = append(seeds, c.Expr)
	}
	return seeds
}
