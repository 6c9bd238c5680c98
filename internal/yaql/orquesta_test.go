package yaql

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func mustOrquesta(t *testing.T, vars map[string]any) *Context {
	t.Helper()
	c, err := NewOrquestaContext(vars)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var vmList = map[string]any{"vms": []any{
	map[string]any{"name": "vmweb1", "region": "us-east", "role": "web"},
	map[string]any{"name": "vmdb1", "region": "us-east", "role": "db"},
	map[string]any{"name": "vmweb2", "region": "us-west", "role": "web"},
	map[string]any{"name": "vmdb2", "region": "us-west", "role": "db"},
}}

var vmDict = map[string]any{"vms": map[string]any{
	"vmdb1":  map[string]any{"region": "us-east", "role": "db", "name": "vmdb1"},
	"vmdb2":  map[string]any{"region": "us-west", "role": "db", "name": "vmdb2"},
	"vmweb1": map[string]any{"region": "us-east", "role": "web", "name": "vmweb1"},
	"vmweb2": map[string]any{"region": "us-west", "role": "web", "name": "vmweb2"},
}}

// TestOrquestaRender reproduces Orquesta's documented results for <% %>
// (orquesta/tests/unit/expressions/test_yaql_*.py and test_facade_yaql_*.py).
func TestOrquestaRender(t *testing.T) {
	t.Parallel()
	recursive := map[string]any{"fee": "<% ctx().fi %>", "fi": "<% ctx().fo %>", "fo": "<% ctx().fum %>",
		"fum": "fee-fi-fo-fum!", "im": "<% ctx().hungry %>", "hungry": "i'm hungry!"}
	types := map[string]any{"k1": 101, "k2": 1.999, "k3": true, "k4": []any{1, 2}, "k5": map[string]any{"k": "v"}, "k6": nil}
	cases := []struct {
		text string
		vars map[string]any
		want any
	}{
		{"<% ctx().foo %>", map[string]any{"foo": "bar"}, "bar"},
		{"foo<% ctx().foo %>", map[string]any{"foo": "bar"}, "foobar"},
		{"<% ctx(ctx().foo) %>", map[string]any{"foo": "bar", "bar": "foobar"}, "foobar"},
		{"<% ctx(ctx(foo)) %>", map[string]any{"foo": "bar", "bar": "foobar"}, "foobar"},
		{"<% ctx('foo') %>", map[string]any{"foo": "bar"}, "bar"},
		{`<% ctx("foo") %>`, map[string]any{"foo": "bar"}, "bar"},
		{"<% ctx().nested.foo %>", map[string]any{"nested": map[string]any{"foo": "bar"}}, "bar"},
		{"<% ctx(nested).foo %>", map[string]any{"nested": map[string]any{"foo": "bar"}}, "bar"},
		{"<% ctx().foo %> and <% ctx().marco %>", map[string]any{"foo": "bar", "marco": "polo"}, "bar and polo"},
		{"<% ctx().fee %>", recursive, "fee-fi-fo-fum!"},
		{"<% ctx().fee %> <% ctx().im %>", recursive, "fee-fi-fo-fum! i'm hungry!"},
		{"<% ctx().k1 %>", types, int64(101)},
		{"<% ctx().k2 %>", types, 1.999},
		{"<% ctx().k3 %>", types, true},
		{"<% ctx().k4 %>", types, []any{int64(1), int64(2)}},
		{"<% ctx().k5 %>", types, map[string]any{"k": "v"}},
		{"<% ctx().k6 %>", types, nil},
		{"<% ctx().foo %> -> <% ctx().bar %>", map[string]any{"foo": 101, "bar": 201}, "101 -> 201"},
		// Mixed text writes values as Python's str() does.
		{"k3=<% ctx().k3 %> k4=<% ctx().k4 %> k5=<% ctx().k5 %> k6=<% ctx().k6 %> f=<% 2.0 %>", types,
			"k3=True k4=[1, 2] k5={'k': 'v'} k6=None f=2.0"},
		{"no expression", nil, "no expression"},
		{`<% json('{"a": 123}') %>`, nil, map[string]any{"a": int64(123)}},
		{"<% ctx(val).distinct() %>", map[string]any{"val": []any{1, 2, 3, 1}}, []any{int64(1), int64(2), int64(3)}},
		{"<% ctx(val).distinct() %>", map[string]any{"val": []any{map[string]any{"a": 1}, map[string]any{"b": 2}, map[string]any{"a": 1}}},
			[]any{map[string]any{"a": int64(1)}, map[string]any{"b": int64(2)}}},
		{"<% ctx(val).distinct($[1]) %>", map[string]any{"val": []any{[]any{"a", 1}, []any{"b", 2}, []any{"c", 1}, []any{"a", 3}}},
			[]any{[]any{"a", int64(1)}, []any{"b", int64(2)}, []any{"a", int64(3)}}},
		{"<% ctx(vms).select($.name) %>", vmList, []any{"vmweb1", "vmdb1", "vmweb2", "vmdb2"}},
		{"<% ctx().vms.select($.name) %>", vmList, []any{"vmweb1", "vmdb1", "vmweb2", "vmdb2"}},
		{"<% ctx(vms)[0] %>", vmList, map[string]any{"name": "vmweb1", "region": "us-east", "role": "web"}},
		{"<% ctx(vms).where($.region = 'us-east' and $.role = 'web').select($.name) %>", vmList, []any{"vmweb1"}},
		{"<% ctx(vms).select($.region).distinct() %>", vmList, []any{"us-east", "us-west"}},
		{"<% dict(vms=>dict(ctx(vms).select([$.name, $]))) %>", vmList, vmDict},
		{"<% dict(vms=>dict(ctx().vms.select([$.name, $]))) %>", vmList, vmDict},
		{"<% ctx(vms).get(vmweb1) %>", vmDict, map[string]any{"name": "vmweb1", "region": "us-east", "role": "web"}},
		{"<% ctx(vms)[vmweb1] %>", vmDict, map[string]any{"name": "vmweb1", "region": "us-east", "role": "web"}},
		{"<% ctx().vms.get(vmweb1).role %>", vmDict, "web"},
		{"<% ctx(vms).keys() %>", vmDict, []any{"vmdb1", "vmdb2", "vmweb1", "vmweb2"}},
		{"<% ctx().x + ctx().y + ctx().z %>", map[string]any{"x": 1, "y": 2, "z": 3}, int64(6)},
		{"<% list(abc, def) + list(ijk, xyz) %>", nil, []any{"abc", "def", "ijk", "xyz"}},
		{"<% dict(a=>123, b=>true) + dict(c=>xyz) %>", nil, map[string]any{"a": int64(123), "b": true, "c": "xyz"}},
		{"<% range(0, 4) %>", nil, []any{int64(0), int64(1), int64(2), int64(3)}},
		{"<% range(3).select(str($)) %>", nil, []any{"0", "1", "2"}},
		{"<% len(ctx(files)) %>", map[string]any{"files": []any{"a", "b"}}, int64(2)},
		{"<% ctx(greeting).toUpper() %>", map[string]any{"greeting": "Hello"}, "HELLO"},
		{"<% not ctx().which in list(a, b) %>", map[string]any{"which": "c"}, true},
		{"<% ctx().count < 2 %>", map[string]any{"count": 1}, true},
		{"<% ctx(dict1).get(b, false) %>", map[string]any{"dict1": map[string]any{"a": 1}}, false},
		{"<% ctx(loop) = true %>", map[string]any{"loop": true}, true},
		{"<% zip(ctx(xs), ctx(ys)) %>", map[string]any{"xs": []any{1, 2, 3}, "ys": []any{"a", "b"}},
			[]any{[]any{int64(1), "a"}, []any{int64(2), "b"}, []any{int64(3), nil}}},
		{"<% zip(ctx(xs), ctx(ys), pad => 0) %>", map[string]any{"xs": []any{1}, "ys": []any{"a", "b"}},
			[]any{[]any{int64(1), "a"}, []any{int64(0), "b"}}},
		{"<% ctx(xs).zip(ctx(ys)) %>", map[string]any{"xs": []any{1, 2, 3}, "ys": []any{"a", "b"}},
			[]any{[]any{int64(1), "a"}, []any{int64(2), "b"}}},
		{"<% ctx().keys() %>", map[string]any{"b": 1, "a": 2, "__state": 3}, []any{"a", "b"}},
	}
	for _, tc := range cases {
		got, err := Render(tc.text, mustOrquesta(t, tc.vars))
		if err != nil {
			t.Errorf("%s: %v", tc.text, err)
			continue
		}
		want, _ := Normalize(tc.want)
		if !equal(got, want) || typeName(got) != typeName(want) {
			t.Errorf("%s:\n got  %s (%s)\n want %s (%s)", tc.text, pyStr(got), typeName(got), pyStr(want), typeName(want))
		}
	}
}

func TestOrquestaRenderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text, want string
	}{
		{"<% ctx().foo %>", `key "foo" not found`},
		{"<% ctx(foo) %>", `the variable "foo" is referenced before assignment`},
		{"<% ctx(__state) %>", `names may not start with __`},
		{`<% ctx("__state") %>`, `the variable "__state" is for internal use`},
		{"<% json(int(123)) %>", `json(): the value is not a string but a integer`},
		{"<% foobar() %>", `unknown function foobar()`},
		{"<% 1 +/ 2 %>", `unexpected "/"`},
		{`<% {"a": 123} %>`, `unexpected character ':'`},
		{"<% <% ctx().foo %> %>", `unexpected`},
	}
	ctx := mustOrquesta(t, map[string]any{"__state": map[string]any{}})
	for _, tc := range cases {
		_, err := Render(tc.text, ctx)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error with %q, got %v", tc.text, tc.want, err)
		}
	}
	if _, err := Render("<% ctx(foo) %>", ctx); !errors.Is(err, ErrUndefined) {
		t.Errorf("an undefined variable should wrap ErrUndefined, got %v", err)
	}
	// Orquesta's validation finds one error per broken expression.
	if errs := Validate(`<% 1 +/ 2 %> and <% {"a": 123} %> and <% ctx().ok %>`); len(errs) != 2 {
		t.Errorf("want 2 validation errors, got %v", errs)
	}
	if errs := Validate("<% ctx().a1 + ctx(a2) %> <% abc %> <% 1 + 2 %>"); len(errs) != 0 {
		t.Errorf("want no validation error, got %v", errs)
	}
	// An expression that expands into itself is stopped.
	loop := mustOrquesta(t, map[string]any{"a": "<% ctx().a %>"})
	if _, err := Render("<% ctx().a %>", loop); err == nil || !strings.Contains(err.Error(), "levels deep") {
		t.Errorf("a self-expanding expression should fail, got %v", err)
	}
}

// TestEngineFunctions shows how the workflow engine adds Orquesta's
// state functions: they are plain registered functions.
func TestEngineFunctions(t *testing.T) {
	t.Parallel()
	ctx := mustOrquesta(t, map[string]any{"count": 1, "which": "a"})
	status := "succeeded"
	ctx.Register("succeeded", func(c *Call) (any, error) { return status == "succeeded", nil })
	ctx.Register("result", func(c *Call) (any, error) {
		return map[string]any{"stdout": "hi", "status_code": 200, "items": []map[string]any{{"result": map[string]any{"stdout": "x"}}}}, nil
	})
	ctx.Register("st2kv", func(c *Call) (any, error) {
		key, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		decrypt, _, err := c.Named("decrypt")
		if err != nil {
			return nil, err
		}
		return map[string]any{"key": key, "decrypt": decrypt}, nil
	})
	cases := []struct {
		text string
		want any
	}{
		{"<% succeeded() and ctx().count < 2 %>", true},
		{`<% succeeded() and ctx().which = "a" %>`, true},
		{"<% succeeded() and result().status_code = 200 %>", true},
		{"<% result().stdout %>", "hi"},
		{"<% ctx(which) %>, <% result().stdout %>", "a, hi"},
		{"<% result().items.select($.result.stdout) %>", []any{"x"}},
		{"<% st2kv('system.k', decrypt => true) %>", map[string]any{"key": "system.k", "decrypt": true}},
		{"<% st2kv(ctx().which).key %>", "a"},
	}
	for _, tc := range cases {
		got, err := Render(tc.text, ctx)
		want, _ := Normalize(tc.want)
		if err != nil || !equal(got, want) {
			t.Errorf("%s: got %s, %v; want %s", tc.text, pyStr(got), err, pyStr(want))
		}
	}
	status = "failed"
	if got, _ := Render("<% succeeded() %>", ctx); got != false {
		t.Errorf("succeeded() after a failure: got %v", got)
	}
}

// TestRenderValue renders nested structures, keys included, as Orquesta's
// facade does for inputs and publish blocks.
func TestRenderValue(t *testing.T) {
	t.Parallel()
	ctx := mustOrquesta(t, map[string]any{"bar": "bar", "marco": "marco", "n": 3})
	in := map[string]any{
		"foo":               "<% ctx().bar %>",
		"<% ctx().marco %>": "polo",
		"list":              []any{"<% ctx().n %>", "x<% ctx().n %>", 7},
	}
	got, err := RenderValue(in, ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"foo": "bar", "marco": "polo", "list": []any{int64(3), "x3", int64(7)}}
	w, _ := Normalize(want)
	if !equal(got, w) {
		t.Errorf("got %s, want %s", pyStr(got), pyStr(w))
	}
}

// TestLanguage covers operators, precedence and selectors beyond YAQL's own tests.
func TestLanguage(t *testing.T) {
	t.Parallel()
	data := map[string]any{"a": map[string]any{"b": []any{10, 20, 30}}, "list": []any{3, 1, 2}, "s": "Hello", "none": nil,
		"people": []any{map[string]any{"name": "a", "age": 30}, map[string]any{"name": "b", "age": 20}, map[string]any{"name": "c", "age": 30}}}
	cases := []struct {
		expr string
		want any
	}{
		{"1 + 2 * 3", int64(7)},
		{"(1 + 2) * 3", int64(9)},
		{"-2 * 3", int64(-6)},
		{"7 / 2", int64(3)},
		{"-7 / 2", int64(-4)},
		{"7 mod 3", int64(1)},
		{"-7 mod 3", int64(2)},
		{"7.0 / 2", 3.5},
		{"not 1 = 2", true},
		{"not true and false", false},
		{"true or false and false", true},
		{"1 < 2 = true", true},
		{"true = 1 and [1, true].distinct() = [1]", true},
		{"null or 'x'", "x"},
		{"0 and 1", int64(0)},
		{"$.a.b[1]", int64(20)},
		{"$.a.b[-1]", int64(30)},
		{"$['a']['b'][0]", int64(10)},
		{"$.a.get(missing, 5)", int64(5)},
		{"$.a['missing', 6]", int64(6)},
		{"$.none?.foo", nil},
		{"$.list.orderBy($)", []any{int64(1), int64(2), int64(3)}},
		{"$.list.orderByDescending($)[0]", int64(3)},
		{"$.people.orderBy($.age).thenByDescending($.name).select($.name)", []any{"b", "c", "a"}},
		{"$.people.groupBy($.age, $.name)", []any{[]any{int64(30), []any{"a", "c"}}, []any{int64(20), []any{"b"}}}},
		{"$.people.where($.age > 25).len()", int64(2)},
		{"$.people.name", []any{"a", "b", "c"}},
		{"$.people.select($.age).sum()", int64(80)},
		{"$.people.select($.age).max()", int64(30)},
		{"max(1, 5)", int64(5)},
		{"$.list.first()", int64(3)},
		{"[].first(default => 9)", int64(9)},
		{"$.s.toLower() + ' ' + str(1.5)", "hello 1.5"},
		{"'a,b,,c'.split(',')", []any{"a", "b", "", "c"}},
		{"'  a b  '.trim()", "a b"},
		{"['a', 1, null, true].join('-')", "a-1-null-true"},
		{"'-'.join([1, 2])", "1-2"},
		{"'{0}-{1}'.format(a, 2)", "a-2"},
		{"format('{} is {n}', x, n => 3)", "x is 3"},
		{`'tab\there'`, "tab\there"},
		{`"it's"`, "it's"},
		{"`raw\\n`", `raw\n`},
		{`'\u00e9'.len()`, int64(1)},
		{"'abc' in 'xabcx'", true},
		{"2 in [1, 2]", true},
		{"a in {a => 1}", true},
		{"{a => 1, b => [1, 2]}", map[string]any{"a": int64(1), "b": []any{int64(1), int64(2)}}},
		{"{a => 1} + {b => 2}", map[string]any{"a": int64(1), "b": int64(2)}},
		{"[1, 2] + [3]", []any{int64(1), int64(2), int64(3)}},
		{"'ab' * 2", "abab"},
		{"let(x => 2, y => 3) -> $x * $y", int64(6)},
		{"[1, 2, 3].where($ > 1).select($ * 10)", []any{int64(20), int64(30)}},
		{"[[1, 2], [3]].selectMany($)", []any{int64(1), int64(2), int64(3)}},
		{"[1, [2, [3]]].flatten()", []any{int64(1), int64(2), int64(3)}},
		{"[1, 2].any($ > 1) and [1, 2].all($ > 0)", true},
		{"'abc' =~ 'b.'", true},
		{"'abc' !~ '^b'", true},
		{"regex('B', ignoreCase => true).matches('abc')", true},
		{"'a1b22'.replace(regex('[0-9]+'), '<\\\\g<0>>')", "a<1>b<22>"},
		{"'x'.isEmpty() or ''.isEmpty()", true},
		{"switch(1 > 2 => a, true => b)", "b"},
		{"coalesce(null, null, 3)", int64(3)},
		{"int('42') + float('0.5')", 42.5},
		{"int(2.9)", int64(2)},
		{"round(2.5)", 2.0},
		{"round(3.14159, 2)", 3.14},
		{"abs(-3)", int64(3)},
		{"10000000000000000.0", 1e16},
		{"str(10000000000000000.0)", "1e+16"},
		{"str(0.1 + 0.2)", "0.30000000000000004"},
		{"[3, 1, 3].distinct()", []any{int64(3), int64(1)}},
		{"[1, 2, 3].intersect([2, 3, 4])", []any{int64(2), int64(3)}},
		{"{a => 1}.set(b, 2)", map[string]any{"a": int64(1), "b": int64(2)}},
		{"{a => 1, b => 2}.delete(a)", map[string]any{"b": int64(2)}},
		{"{b => 1, a => 2}.items()", []any{[]any{"a", int64(2)}, []any{"b", int64(1)}}},
		{"{a => {x => 1, l => [1]}}.mergeWith({a => {y => 2, l => [2]}})", map[string]any{"a": map[string]any{"x": int64(1), "y": int64(2), "l": []any{int64(1), int64(2)}}}},
		{"def(sq, $ * $) -> [1, 2].select(sq($))", []any{int64(1), int64(4)}},
		{"[1, 2, 3].aggregate($1 + $2)", int64(6)},
		{"[[1, a], [2, b]].toDict($[1], $[0])", map[string]any{"a": int64(1), "b": int64(2)}},
	}
	for _, tc := range cases {
		ctx := NewContext()
		if err := ctx.Set("$", data); err != nil {
			t.Fatal(err)
		}
		got, err := Evaluate(tc.expr, ctx)
		want, _ := Normalize(tc.want)
		if err != nil || !equal(got, want) || typeName(got) != typeName(want) {
			t.Errorf("%s: got %s (%s), %v; want %s", tc.expr, pyStr(got), typeName(got), err, pyStr(want))
		}
	}
}

// TestErrorsNamePosition checks that errors carry the expression and where in it.
func TestErrorsNamePosition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		pos  int
		msg  string
	}{
		{"1 + ", 4, "unexpected end of expression"},
		{"(1", 2, `expected ")"`},
		{"1 2", 2, "unexpected"},
		{"[1, 2].nope()", 7, "unknown method nope()"},
		{"{a => 1}.b", 8, `key "b" not found`},
		{"[1][5]", 3, "out of range"},
		{"1 / 0", 2, "division by zero"},
		{"'a' + 1", 4, "+ is not defined for a string and a integer"},
		{"len(1, 2, 3)", 0, "len() takes 1 arguments, got 3"},
		{"'unterminated", 0, "unterminated string"},
		{"1 ? 2", 2, "unexpected character"},
		{"1e", 0, "malformed number"},
		{"[1].first(foo => 1)", 4, "accepts only default"},
		{"9223372036854775807 + 1", 20, "integer overflow"},
	}
	for _, tc := range cases {
		_, err := Evaluate(tc.expr, nil)
		var ye *Error
		if !errors.As(err, &ye) {
			t.Errorf("%s: want an *Error, got %v", tc.expr, err)
			continue
		}
		if ye.Expr != tc.expr || ye.Pos != tc.pos || !strings.Contains(ye.Msg, tc.msg) {
			t.Errorf("%s: got %q at %d, want %q at %d", tc.expr, ye.Msg, ye.Pos, tc.msg, tc.pos)
		}
	}
}

// TestLimits checks that hostile expressions fail fast with ErrLimit.
func TestLimits(t *testing.T) {
	t.Parallel()
	cases := []string{
		"range(0, 1000000000)",
		"'a' * 1000000000",
		"[1] * 1000000000",
		"range(100000).select(range(100000))",
		"def(f, f($)) -> f(1)",
		"let(a => range(50000)) -> ([$a] * 50000).distinct()",
		"let(a => range(50000)) -> [$a] * 50000 = [$a] * 50000",
		"let(a => range(50000)) -> str([$a] * 50000)",
		"let(a => range(50000)) -> [$a] * 50000",
		"let(a => 'x' * 1000000) -> $a + $a",
		"generate(1, true, $ + 1)",
	}
	for _, expr := range cases {
		_, err := Evaluate(expr, nil)
		if !errors.Is(err, ErrLimit) {
			t.Errorf("%s: want ErrLimit, got %v", expr, err)
		}
	}
	deep := strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000)
	if _, err := Evaluate(deep, nil); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: got %v", err)
	}
	if _, err := Evaluate(strings.Repeat("1+", 40000)+"1", nil); err == nil {
		t.Errorf("an over-long expression should fail")
	}
	ctx := NewContext()
	ctx.SetLimits(Limits{MaxSteps: 50, MaxDepth: 20, MaxItems: 10, MaxStringLen: 10, MaxExprLen: 100})
	for _, expr := range []string{"range(11)", "'abcdef' + 'ghijk'", "range(10).select($).select($).select($).select($).select($)"} {
		if _, err := Evaluate(expr, ctx); !errors.Is(err, ErrLimit) {
			t.Errorf("%s with small limits: want ErrLimit, got %v", expr, err)
		}
	}
}

// TestConcurrentEvaluation evaluates one parsed expression from many
// goroutines in a shared context.
func TestConcurrentEvaluation(t *testing.T) {
	t.Parallel()
	ctx := mustOrquesta(t, vmList)
	e, err := Parse("ctx(vms).where($.role = web).select($.name).orderBy($)")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				got, err := e.Evaluate(ctx)
				if err != nil || !equal(got, []any{"vmweb1", "vmweb2"}) {
					t.Errorf("got %v, %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestInputConversion checks that Go values are converted on the way in.
func TestInputConversion(t *testing.T) {
	t.Parallel()
	ctx := NewContext()
	type item struct{ N int }
	if err := ctx.Set("x", map[string]any{"ints": []int{1, 2}, "m": map[string]string{"k": "v"}, "u": uint8(7), "f": float32(0.5)}); err != nil {
		t.Fatal(err)
	}
	got, err := Evaluate("$x.ints.sum() + $x.u + $x.f", ctx)
	if err != nil || !equal(got, 10.5) {
		t.Errorf("got %v, %v", got, err)
	}
	if got, err := Evaluate("$x.m.k", ctx); err != nil || got != "v" {
		t.Errorf("got %v, %v", got, err)
	}
	if err := ctx.Set("bad", item{1}); err == nil {
		t.Errorf("a struct should be refused")
	}
}

// TestCtxVars follows Orquesta's variable extraction tests.
func TestCtxVars(t *testing.T) {
	t.Parallel()
	cases := []struct {
		text string
		want []string
	}{
		{"<% just_text and $not_a_var and notctx().bar %>", []string{}},
		{"<% ctx().foobar  %>", []string{"foobar"}},
		{"<% ctx().foo.bar %>", []string{"foo"}},
		{"<% ctx().foo[0]  %>", []string{"foo"}},
		{"<% ctx().foo.get(bar)  %>", []string{"foo"}},
		{"<% ctx().fubar + ctx().foobar + ctx().foo.get(bar) + ctx().fu.bar + ctx().foobaz.bar[0] %>", []string{"foo", "foobar", "foobaz", "fu", "fubar"}},
		{`<% ctx(foo) %> and <% ctx("bar") %> <% ctx('baz').x %> <% ctx(ctx(q)) %>`, []string{"bar", "baz", "foo", "q"}},
		{"<% ctx().keys() and ctx().values() %>", []string{}},
	}
	for _, tc := range cases {
		got := CtxVars(tc.text)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: got %v, want %v", tc.text, got, tc.want)
		}
	}
}

// TestLargeContext checks that a large workflow context costs nothing per
// ctx() call: it is not walked again.
func TestLargeContext(t *testing.T) {
	t.Parallel()
	big := make([]any, 300_000)
	for i := range big {
		big[i] = map[string]any{"i": i}
	}
	ctx := mustOrquesta(t, map[string]any{"big": big, "x": 1})
	ctx.SetLimits(Limits{MaxSteps: 1000, MaxDepth: 50, MaxItems: 1000, MaxStringLen: 1000, MaxExprLen: 1000})
	for i := 0; i < 100; i++ {
		if got, err := Render("<% ctx().x + ctx(x) %>", ctx); err != nil || got != int64(2) {
			t.Fatalf("got %v, %v", got, err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	ctx, err := NewOrquestaContext(vmList)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := Render("<% ctx(vms).where($.region = 'us-east').select($.name) %>", ctx); err != nil {
			b.Fatal(err)
		}
	}
}
