package st2shell

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/param"
)

func pos(n int) *int { return &n }

var runnerParams = map[string]bool{"cwd": true, "env": true, "kwarg_op": true, "sudo": true, "sudo_password": true, "timeout": true}

// TestScriptArgs pins the argv StackStorm's local-shell-script runner gives
// a script, as read from ShellScriptAction._get_script_arguments (named
// arguments) and action_db.serialize_positional_argument (positional ones).
func TestScriptArgs(t *testing.T) {
	t.Parallel()
	greet := param.Schema{
		"name":     {Type: param.TypeString, Position: pos(0)},
		"greeting": {Type: param.TypeString, Position: pos(1)},
		"loud":     {Type: param.TypeBoolean},
		"count":    {Type: param.TypeInteger},
		"cwd":      {Type: param.TypeString},
		"timeout":  {Type: param.TypeInteger},
	}
	tests := []struct {
		name    string
		schema  param.Schema
		params  map[string]any
		kwargOp string
		want    []string
	}{
		{
			name: "named first, then positional in order; runner parameters left out", schema: greet,
			params:  map[string]any{"name": "World", "greeting": "Hello", "loud": true, "count": float64(3), "cwd": "/tmp", "timeout": float64(60)},
			kwargOp: "--", want: []string{"--count=3", "--loud", "World", "Hello"},
		},
		{
			name: "false and null named arguments are left out", schema: greet,
			params:  map[string]any{"name": "World", "greeting": "Hi", "loud": false, "count": nil},
			kwargOp: "--", want: []string{"World", "Hi"},
		},
		{
			name: "an absent positional keeps its place as an empty argument", schema: greet,
			params:  map[string]any{"greeting": "Hi"},
			kwargOp: "--", want: []string{"", "Hi"},
		},
		{
			name: "empty strings: named left out, positional kept empty", schema: greet,
			params:  map[string]any{"name": "", "greeting": "", "extra": ""},
			kwargOp: "--", want: []string{"", ""},
		},
		{
			name: "kwarg_op -", schema: param.Schema{"a": {Type: param.TypeString}},
			params: map[string]any{"a": "x", "b": true}, kwargOp: "-", want: []string{"-a=x", "-b"},
		},
		{
			name: "empty kwarg_op", schema: param.Schema{},
			params: map[string]any{"a": "x"}, kwargOp: "", want: []string{"a=x"},
		},
		{
			name: "positions sort numerically, gaps close up",
			schema: param.Schema{
				"ten": {Type: param.TypeString, Position: pos(10)}, "two": {Type: param.TypeString, Position: pos(2)},
				"zero": {Type: param.TypeString, Position: pos(0)},
			},
			params: map[string]any{"ten": "c", "two": "b", "zero": "a"}, kwargOp: "--", want: []string{"a", "b", "c"},
		},
		{
			name: "positional booleans are 1 and 0, null is empty",
			schema: param.Schema{
				"t": {Type: param.TypeBoolean, Position: pos(0)}, "f": {Type: param.TypeBoolean, Position: pos(1)},
				"n": {Type: param.TypeBoolean, Position: pos(2)},
			},
			params: map[string]any{"t": true, "f": false}, kwargOp: "--", want: []string{"1", "0", ""},
		},
		{
			name: "positional integers: StackStorm's falsy zero becomes empty, numbers keep it",
			schema: param.Schema{
				"i": {Type: param.TypeInteger, Position: pos(0)}, "zero": {Type: param.TypeInteger, Position: pos(1)},
				"num": {Type: param.TypeNumber, Position: pos(2)}, "frac": {Type: param.TypeNumber, Position: pos(3)},
			},
			params:  map[string]any{"i": float64(42), "zero": float64(0), "num": float64(0), "frac": 1.5},
			kwargOp: "--", want: []string{"42", "", "0", "1.5"},
		},
		{
			name: "arrays: positional comma-joined, named as Python's list",
			schema: param.Schema{
				"list": {Type: param.TypeArray, Position: pos(0)}, "none": {Type: param.TypeArray, Position: pos(1)},
				"tags": {Type: param.TypeArray},
			},
			params: map[string]any{
				"list": []any{"a", "b c", float64(1), true, nil},
				"none": []any{},
				"tags": []any{"a", "it's", float64(2)},
			},
			kwargOp: "--", want: []string{`--tags=['a', "it's", 2]`, "a,b c,1,True,None", ""},
		},
		{
			name: "objects: positional as compact JSON, named as Python's dict",
			schema: param.Schema{
				"obj": {Type: param.TypeObject, Position: pos(0)}, "empty": {Type: param.TypeObject, Position: pos(1)},
				"meta": {Type: param.TypeObject},
			},
			params: map[string]any{
				"obj":   map[string]any{"b": float64(1), "a": "<é>", "c": []any{true, nil}},
				"empty": map[string]any{},
				"meta":  map[string]any{"k": "v", "n": nil, "on": false},
			},
			kwargOp: "--", want: []string{`--meta={'k': 'v', 'n': None, 'on': False}`, `{"a":"<é>","b":1,"c":[true,null]}`, ""},
		},
		{
			name: "named numbers keep zero; fractions print as Python does", schema: param.Schema{},
			params:  map[string]any{"n": float64(0), "r": 0.1, "big": 1e22, "tiny": 1e-5, "neg": float64(-7)},
			kwargOp: "--", want: []string{"--big=1e+22", "--n=0", "--neg=-7", "--r=0.1", "--tiny=1e-05"},
		},
		{
			name: "untyped positional: its text when truthy",
			schema: param.Schema{
				"a": {Type: param.TypeAny, Position: pos(0)}, "b": {Type: param.TypeAny, Position: pos(1)},
				"c": {Type: param.TypeAny, Position: pos(2)},
			},
			params: map[string]any{"a": true, "b": false, "c": "x y"}, kwargOp: "--", want: []string{"True", "", "x y"},
		},
		{
			name: "values reach the script word for word", schema: param.Schema{"p": {Type: param.TypeString, Position: pos(0)}},
			params: map[string]any{
				"p": `it's "quoted" $(rm -rf /) ` + "`id` \\ * ;|& \n tab\t",
				"q": "a b",
			},
			kwargOp: "--", want: []string{"--q=a b", `it's "quoted" $(rm -rf /) ` + "`id` \\ * ;|& \n tab\t"},
		},
		{
			name:   "a runner parameter with a position is still the runner's",
			schema: param.Schema{"sudo": {Type: param.TypeBoolean, Position: pos(0)}, "x": {Type: param.TypeString, Position: pos(1)}},
			params: map[string]any{"sudo": true, "x": "y"}, kwargOp: "--", want: []string{"y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ScriptArgs(tt.schema, runnerParams, tt.params, tt.kwargOp)
			if len(tt.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestPyStr pins Python's str() and repr() of the values JSON gives.
func TestPyStr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   any
		want string
	}{
		{nil, "None"}, {true, "True"}, {false, "False"}, {"plain", "plain"},
		{float64(3), "3"}, {2.5, "2.5"}, {-0.001, "-0.001"}, {0.00001, "1e-05"}, {1.5e16, "15000000000000000"},
		{1.25e17 + 0.5, "125000000000000000"}, {json.Number("12345678901234567890"), "12345678901234567890"},
		{[]any{}, "[]"}, {map[string]any{}, "{}"},
		{[]any{"a'b"}, `["a'b"]`}, {[]any{`a'b"c`}, `['a\'b"c']`}, {[]any{"x\ny\\"}, `['x\ny\\']`},
		{[]any{"\x01", "é", "\u00a0", "\u200b", "😀"}, `['\x01', 'é', '\xa0', '\u200b', '😀']`},
		{map[string]any{"z": []any{float64(1), map[string]any{"k": nil}}, "a": "v"}, `{'a': 'v', 'z': [1, {'k': None}]}`},
	} {
		require.Equal(t, tt.want, PyStr(tt.in), "%#v", tt.in)
	}
}

// shlexQuote is Python's shlex.quote, which StackStorm's quote_unix is.
func shlexQuote(s string) string {
	if s == "" {
		return "''"
	}
	if !regexp.MustCompile(`[^\w@%+=:,./-]`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// TestArgsMatchStackStormsQuotedCommandLine runs the command line StackStorm
// would build (each word through shlex.quote, then /bin/sh -c) and checks
// that the shell hands the program exactly the words attune passes as argv.
func TestArgsMatchStackStormsQuotedCommandLine(t *testing.T) {
	t.Parallel()
	schema := param.Schema{
		"a": {Type: param.TypeString, Position: pos(0)},
		"b": {Type: param.TypeArray, Position: pos(1)},
		"c": {Type: param.TypeObject, Position: pos(2)},
		"d": {Type: param.TypeString, Position: pos(3)},
	}
	params := map[string]any{
		"a":     `it's "quoted" $(echo pwned) ` + "`id` $HOME \\ * ? [x] ~ ;|&<> # \n\ttab é",
		"b":     []any{"x y", "'", `"`},
		"c":     map[string]any{"k": "$(id)", "q": `"'`},
		"named": "spaces and 'quotes' and $(subshells)",
		"flag":  true,
		"list":  []any{"a b", float64(1)},
	}
	args := ScriptArgs(schema, runnerParams, params, "--")
	words := make([]string, len(args))
	for i, a := range args {
		if i >= len(args)-len(schema) {
			words[i] = shlexQuote(a) // positional
		} else if name, value, ok := strings.Cut(a, "="); ok {
			words[i] = shlexQuote(name) + "=" + shlexQuote(value)
		} else {
			words[i] = a // StackStorm leaves a bare flag unquoted
		}
	}
	line := `printf '%s\0' ` + strings.Join(words, " ")
	var stderr bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String()+line)
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	require.Equal(t, args, got)
	require.Len(t, args, 7)
	require.Equal(t, "", args[6]) // d is absent: an empty word keeps its place
}

// FuzzScriptArgs checks, for any names and values, that every positional
// parameter gets exactly one argument in position order, named values
// arrive unchanged, and runner parameters never appear.
func FuzzScriptArgs(f *testing.F) {
	f.Add("name", "World", "--", uint8(0), true, 1.5)
	f.Add("x", "", "-", uint8(3), false, 0.0)
	f.Add("it's", "$(id) `x` \"q\" 'q'\n", "", uint8(255), true, -1e300)
	f.Fuzz(func(t *testing.T, name, value, kwargOp string, position uint8, flag bool, num float64) {
		if name == "" || runnerParams[name] || name == "p0" || name == "p1" || name == "flag" || name == "num" {
			return
		}
		schema := param.Schema{
			"p0":  {Type: param.TypeString, Position: pos(int(position))},
			"p1":  {Type: param.TypeString, Position: pos(int(position) + 1)},
			"cwd": {Type: param.TypeString},
		}
		params := map[string]any{name: value, "p1": value, "flag": flag, "num": num, "cwd": "/x", "timeout": float64(5)}
		args := ScriptArgs(schema, runnerParams, params, kwargOp)
		again := ScriptArgs(schema, runnerParams, params, kwargOp)
		require.Equal(t, args, again, "not deterministic")
		require.GreaterOrEqual(t, len(args), 2)
		// The two positionals come last, in order: p0 absent, p1 the value.
		require.Equal(t, []string{"", value}, args[len(args)-2:])
		named := args[:len(args)-2]
		want := 1 // num always has a value
		if value != "" {
			require.Contains(t, named, kwargOp+name+"="+value)
			want++
		}
		if flag {
			require.Contains(t, named, kwargOp+"flag")
			want++
		}
		require.Len(t, named, want, "%q", named)
		for _, a := range named {
			require.False(t, strings.HasPrefix(a, kwargOp+"cwd") || strings.HasPrefix(a, kwargOp+"timeout"), a)
			require.True(t, strings.HasPrefix(a, kwargOp), a)
		}
		require.NotContains(t, PyStr(num), " ")
		var b bytes.Buffer
		b.WriteString(PyStr([]any{value, num, flag, nil}))
		require.True(t, strings.HasPrefix(b.String(), "[") && strings.HasSuffix(b.String(), "None]"))
	})
}
