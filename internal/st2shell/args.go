// Package st2shell speaks StackStorm's shell conventions: how a
// local-shell-script (and remote-shell-script) action receives its
// parameters on the command line. It is a pure core, read from StackStorm's
// ShellRunnerMixin._get_script_args, action_db.get_args,
// serialize_positional_argument and ShellScriptAction._get_script_arguments,
// and is table-tested and fuzzed against what that code gives.
//
// StackStorm joins the arguments into one command line, each value quoted
// with shlex.quote, and runs it with /bin/sh -c. The quoting exists only so
// that the shell hands the script exactly these words; attune starts the
// script without a shell, with the same words as argv, so no quoting is
// needed and none can go wrong.
package st2shell

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/pyfmt"
)

// DefaultKwargOp is what goes in front of a named argument when the
// action does not set kwarg_op.
const DefaultKwargOp = "--"

// ScriptArgs returns the arguments StackStorm gives a shell script action:
// first the named parameters as <kwargOp><name>=<value> (a true boolean as
// the bare <kwargOp><name>; false, null and empty strings left out), then
// every declared positional parameter in position order, serialized by its
// type (an absent one as an empty argument, so later positions keep their
// place).
//
// schema is the action's merged schema; runner names the runner's own
// parameters (cwd, env, sudo, timeout, kwarg_op…), which never reach the
// script. StackStorm orders named arguments as its dict happens to; attune
// sorts them by name, so the order is stable.
func ScriptArgs(schema param.Schema, runner map[string]bool, params map[string]any, kwargOp string) []string {
	type positional struct {
		pos  int
		name string
	}
	var positions []positional
	seen := map[int]int{} // position -> index in positions
	for _, name := range slices.Sorted(maps.Keys(schema)) {
		spec := schema[name]
		if spec.Position == nil || runner[name] {
			continue
		}
		// Two parameters at one position: StackStorm keeps the last one it
		// reads; attune keeps the last by name.
		if i, ok := seen[*spec.Position]; ok {
			positions[i].name = name
			continue
		}
		seen[*spec.Position] = len(positions)
		positions = append(positions, positional{*spec.Position, name})
	}
	slices.SortFunc(positions, func(a, b positional) int { return cmp.Compare(a.pos, b.pos) })
	isPositional := map[string]bool{}
	for _, p := range positions {
		isPositional[p.name] = true
	}

	var args []string
	for _, name := range slices.Sorted(maps.Keys(params)) {
		if runner[name] || isPositional[name] {
			continue
		}
		switch v := params[name].(type) {
		case nil:
		case string:
			if v != "" {
				args = append(args, kwargOp+name+"="+v)
			}
		case bool:
			if v {
				args = append(args, kwargOp+name)
			}
		default:
			args = append(args, kwargOp+name+"="+PyStr(v))
		}
	}
	for _, p := range positions {
		args = append(args, Positional(schema[p.name].Type, params[p.name]))
	}
	return args
}

// Positional serializes a positional argument as StackStorm's
// serialize_positional_argument does for the parameter's declared type:
// strings and numbers as text, booleans as "1"/"0", arrays joined with
// commas, objects as compact JSON, null as "". Any other type (integer
// included, as StackStorm has it) is its text when truthy and "" when not,
// so an integer 0 becomes "".
func Positional(typ string, v any) string {
	switch typ {
	case param.TypeString, param.TypeNumber, "float":
		if v == nil {
			return ""
		}
		return PyStr(v)
	case param.TypeBoolean:
		if v == nil {
			return ""
		}
		if truthy(v) {
			return "1"
		}
		return "0"
	case param.TypeArray, "list":
		list, ok := v.([]any)
		if !ok {
			if !truthy(v) {
				return ""
			}
			return PyStr(v)
		}
		parts := make([]string, len(list))
		for i, item := range list {
			parts[i] = PyStr(item)
		}
		return strings.Join(parts, ",")
	case param.TypeObject:
		if !truthy(v) {
			return ""
		}
		return compactJSON(v)
	case "null":
		return ""
	}
	if !truthy(v) {
		return ""
	}
	return PyStr(v)
}

// truthy is Python's truth value of a decoded JSON value.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	if f, ok := number(v); ok {
		return f != 0
	}
	return true
}

// PyStr is Python's str() of a decoded JSON value, which is what StackStorm
// puts after "--name=" for a value that is not a string: True, None, 42,
// 1.5, ['a', 'b'], {'k': 1}. Object keys are sorted (Python keeps the
// order the value was written in, which JSON decoding here does not).
func PyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	pyfmt.Repr(&b, v, pyNumberLeaf)
	return b.String()
}

// pyNumberLeaf writes every value that is not None, a bool, a str, a list
// or a dict with pyNumber.
func pyNumberLeaf(b *strings.Builder, v any) bool {
	switch v.(type) {
	case nil, bool, string, []any, map[string]any:
		return false
	}
	b.WriteString(pyNumber(v))
	return true
}

// number reads a JSON number in any of the forms decoding gives.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// pyNumber formats a number as Python prints it. JSON decoding does not
// keep 2 and 2.0 apart, so a whole number prints as an integer, which is
// what a pack author who wrote 2 gets from StackStorm.
func pyNumber(v any) string {
	switch n := v.(type) {
	case int:
		return strconv.Itoa(n)
	case int64:
		return strconv.FormatInt(n, 10)
	case json.Number:
		if !strings.ContainsAny(n.String(), ".eE") {
			return n.String()
		}
	}
	f, ok := number(v)
	if !ok {
		return ""
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return pyfmt.Float(f) // fractions, exponent form, inf and nan

}

// compactJSON encodes v as StackStorm's json_encode (orjson) does: no
// spaces, no HTML escaping, non-ASCII as is; keys are sorted.
func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return PyStr(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
