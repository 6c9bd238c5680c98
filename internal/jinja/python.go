package jinja

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/attune-io/attune/internal/pyfmt"
)

// Python's text forms of values: json.dumps (ensure_ascii on), repr, and
// PyYAML's safe_dump in block style. Dictionary keys are sorted: Go maps
// keep no insertion order.

// pyJSON is json.dumps with ensure_ascii; a value that is not JSON is
// written as its text.
func pyJSON(v any, indent int, itemSep, keySep string) string {
	s, _ := pyfmt.Dumps(v, pyfmt.JSONOptions{Indent: indent, ItemSep: itemSep, KeySep: keySep,
		Other: func(v any) (any, error) { return fmt.Sprint(v), nil }})
	return s
}

// pyRepr is Python's str() of a container or scalar, as Jinja prints it.
func pyRepr(v any) string {
	var b strings.Builder
	pyfmt.Repr(&b, v, nil)
	return b.String()
}

// pyYAML is yaml.safe_dump(v, default_flow_style=False, allow_unicode=True).
func pyYAML(v any, indent int) string {
	var b strings.Builder
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return "{}\n"
		}
		yamlMap(&b, t, 0, indent)
	case []any:
		if len(t) == 0 {
			return "[]\n"
		}
		yamlList(&b, t, 0, indent)
	default:
		b.WriteString(yamlScalar(v))
		b.WriteString("\n...\n")
	}
	return b.String()
}

func yamlMap(b *strings.Builder, m map[string]any, col, indent int) {
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", col))
		}
		b.WriteString(yamlScalar(k))
		b.WriteByte(':')
		yamlValue(b, m[k], col, indent, false)
	}
}

func yamlList(b *strings.Builder, l []any, col, indent int) {
	for i, e := range l {
		if i > 0 {
			b.WriteString(strings.Repeat(" ", col))
		}
		b.WriteString("-")
		yamlValue(b, e, col, indent, true)
	}
}

// yamlValue writes the value after "key:" or "-".
func yamlValue(b *strings.Builder, v any, col, indent int, inList bool) {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			b.WriteString(" {}\n")
			return
		}
		if inList {
			b.WriteByte(' ')
			yamlMap(b, t, col+2, indent)
			return
		}
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(" ", col+indent))
		yamlMap(b, t, col+indent, indent)
	case []any:
		if len(t) == 0 {
			b.WriteString(" []\n")
			return
		}
		if inList {
			b.WriteByte(' ')
			yamlList(b, t, col+2, indent)
			return
		}
		// PyYAML does not indent a list under its key.
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(" ", col))
		yamlList(b, t, col, indent)
	default:
		b.WriteByte(' ')
		b.WriteString(yamlScalar(v))
		b.WriteByte('\n')
	}
}

var (
	yamlSpecial = regexp.MustCompile(`^(?:~|null|Null|NULL|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|` +
		`[-+]?[0-9][0-9_.,:eExXa-fA-F+-]*|[-+]?\.[0-9][0-9_eE+-]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[0-9]{4}-[0-9]{2}-[0-9]{2}.*|<<|=)$`)
	yamlPlainOK = regexp.MustCompile(`^[^-?:,\[\]{}#&*!|>'"%@` + "`" + ` \t][^\t]*$`)
)

// yamlScalar writes a scalar as PyYAML would: plain when it reads back as
// the same string, single-quoted otherwise, double-quoted with escapes
// when it holds control characters.
func yamlScalar(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		if t {
			return "true"
		}
		return "false"
	case int:
		return strconv.Itoa(t)
	case float64:
		switch {
		case math.IsNaN(t):
			return ".nan"
		case math.IsInf(t, 1):
			return ".inf"
		case math.IsInf(t, -1):
			return "-.inf"
		}
		return pyfmt.Float(t)
	case string:
		return yamlString(t)
	}
	return yamlString(fmt.Sprint(v))
}

func yamlString(s string) string {
	control := false
	for _, r := range s {
		if r < 0x20 && r != '\n' || r == 0x7f {
			control = true
		}
	}
	switch {
	case control || strings.Contains(s, "\n"):
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r == '\n':
				b.WriteString(`\n`)
			case r == '\t':
				b.WriteString(`\t`)
			case r < 0x20 || r == 0x7f:
				fmt.Fprintf(&b, `\x%02X`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	case s == "" || yamlSpecial.MatchString(s) || !yamlPlainOK.MatchString(s) ||
		strings.HasSuffix(s, " ") || strings.HasSuffix(s, ":") || strings.Contains(s, ": ") || strings.Contains(s, " #"):
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return s
}

// pyLiteral reads a Python literal (ast.literal_eval of what Jinja prints
// for a list or dict): strings in either quotes, numbers, True, False,
// None, lists, tuples and dicts with string keys.
func pyLiteral(s string) (any, error) {
	p := &litParser{s: s}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("unexpected %q", p.s[p.i:])
	}
	return v, nil
}

type litParser struct {
	s string
	i int
}

func (p *litParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *litParser) value(depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("too deeply nested")
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '\'' || c == '"':
		return p.str(c)
	case c == '[' || c == '(':
		end := byte(']')
		if c == '(' {
			end = ')'
		}
		p.i++
		out := []any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				return out, nil
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == end {
				p.i++
				return out, nil
			}
			return nil, fmt.Errorf("expected , or %c", end)
		}
	case c == '{':
		p.i++
		out := map[string]any{}
		for {
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return out, nil
			}
			k, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, fmt.Errorf("expected :")
			}
			p.i++
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			out[str(k)] = v
			p.space()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.s) && p.s[p.i] == '}' {
				p.i++
				return out, nil
			}
			return nil, fmt.Errorf("expected , or }")
		}
	}
	start := p.i
	for p.i < len(p.s) && strings.IndexByte(",:]})' \t\r\n\"", p.s[p.i]) < 0 {
		p.i++
	}
	word := p.s[start:p.i]
	switch word {
	case "True":
		return true, nil
	case "False":
		return false, nil
	case "None":
		return nil, nil
	}
	if i, err := strconv.Atoi(word); err == nil {
		return i, nil
	}
	if f, err := strconv.ParseFloat(word, 64); err == nil && !strings.ContainsAny(word, "xXpP") {
		return f, nil
	}
	return nil, fmt.Errorf("malformed literal %q", word)
}

func (p *litParser) str(q byte) (string, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch d := p.s[p.i]; d {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			default:
				b.WriteByte(d)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}
