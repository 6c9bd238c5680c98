package inproc

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"github.com/attune-io/attune/internal/manifest"
	"github.com/attune-io/attune/internal/param"
)

// unsafeShell matches what Python's shlex.quote must quote.
var unsafeShell = regexp.MustCompile(`[^\w@%+=:,./-]`)

// shellQuote is Python's shlex.quote, which StackStorm uses for every
// argument: safe words stay as they are, anything else is single-quoted.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if !unsafeShell.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// scriptArgs is the argument string StackStorm gives a shell script: the
// action's named parameters first, as <kwarg_op>name=value (a true boolean
// as the bare flag; false, null and empty values left out), then the
// positional ones in position order, serialized by type (booleans 1/0,
// arrays comma-joined, objects as JSON, absent values as ”). Runner
// parameters never become arguments. Named arguments are sorted by name.
func scriptArgs(runner string, schema param.Schema, params map[string]any) string {
	kwargOp := "--"
	if v, ok := params["kwarg_op"].(string); ok {
		kwargOp = v
	}
	runnerParams := manifest.RunnerParameters(runner)
	type positional struct {
		pos  int
		name string
	}
	var positions []positional
	isPositional := map[string]bool{}
	for name, spec := range schema {
		if _, ok := runnerParams[name]; ok || spec.Position == nil {
			continue
		}
		positions = append(positions, positional{*spec.Position, name})
		isPositional[name] = true
	}
	sort.Slice(positions, func(i, j int) bool { return positions[i].pos < positions[j].pos })

	var parts []string
	for _, name := range sortedKeys(params) {
		if _, ok := runnerParams[name]; ok || isPositional[name] {
			continue
		}
		switch v := params[name].(type) {
		case nil:
		case string:
			if v != "" {
				parts = append(parts, shellQuote(kwargOp+name)+"="+shellQuote(v))
			}
		case bool:
			if v {
				parts = append(parts, kwargOp+name)
			}
		default:
			parts = append(parts, shellQuote(kwargOp+name)+"="+shellQuote(text(v)))
		}
	}
	for _, p := range positions {
		parts = append(parts, shellQuote(positionalArg(schema[p.name].Type, params[p.name])))
	}
	return strings.Join(parts, " ")
}

// positionalArg is StackStorm's serialize_positional_argument.
func positionalArg(typ string, v any) string {
	switch typ {
	case param.TypeString, param.TypeNumber, "float":
		return text(v)
	case param.TypeBoolean:
		if v == nil {
			return ""
		}
		if b, ok := v.(bool); ok && !b {
			return "0"
		}
		return "1"
	case param.TypeArray, "list":
		l, _ := v.([]any)
		s := make([]string, len(l))
		for i, x := range l {
			s[i] = text(x)
		}
		return strings.Join(s, ",")
	case param.TypeObject:
		if m, ok := v.(map[string]any); !ok || len(m) == 0 {
			return ""
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	// Other types are cast to text, and falsy values (0, false, "") give "".
	switch x := v.(type) {
	case nil, bool:
		if x == true {
			return "True"
		}
		return ""
	case float64:
		if x == 0 {
			return ""
		}
	case string:
		return x
	}
	return text(v)
}
