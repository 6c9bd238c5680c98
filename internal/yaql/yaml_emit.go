package yaql

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/attune-io/attune/internal/pyfmt"
)

// dumpYAML writes a value as PyYAML's safe_dump(default_flow_style=False)
// does, which is what StackStorm's to_yaml_string() returns: block style,
// keys sorted, sequences in mappings not indented, strings plain unless they
// would read back as another type.
func dumpYAML(v any, indent, limit int) (string, error) {
	if indent < 2 || indent > 9 {
		indent = 2
	}
	e := &yamlEmitter{indent: indent, limit: limit}
	switch x := v.(type) {
	case []any, *ordering:
		l, _ := toList(x)
		if len(l) == 0 {
			e.b.WriteString("[]\n")
			break
		}
		if err := e.seq(l, 0); err != nil {
			return "", err
		}
	case map[string]any:
		if len(x) == 0 {
			e.b.WriteString("{}\n")
			break
		}
		if err := e.mapping(x, 0); err != nil {
			return "", err
		}
	default:
		s, err := yamlScalar(v)
		if err != nil {
			return "", err
		}
		e.b.WriteString(s)
		if strings.HasPrefix(s, "'") || strings.HasPrefix(s, `"`) {
			e.b.WriteString("\n")
		} else {
			e.b.WriteString("\n...\n") // PyYAML ends a document that is one plain scalar so
		}
	}
	if limit > 0 && e.b.Len() > limit {
		return "", fmt.Errorf("%w: a string longer than %d bytes", ErrLimit, limit)
	}
	return e.b.String(), nil
}

type yamlEmitter struct {
	b      strings.Builder
	indent int
	limit  int
}

func (e *yamlEmitter) full() error {
	if e.limit > 0 && e.b.Len() > e.limit {
		return fmt.Errorf("%w: a string longer than %d bytes", ErrLimit, e.limit)
	}
	return nil
}

// mapping writes key: value lines at column col; the first line's
// indentation has been written by the caller when first is false.
func (e *yamlEmitter) mapping(m map[string]any, col int) error {
	for i, k := range sortedKeys(m) {
		if i > 0 {
			e.b.WriteString(strings.Repeat(" ", col))
		}
		ks, err := yamlScalar(k)
		if err != nil {
			return err
		}
		e.b.WriteString(ks)
		e.b.WriteByte(':')
		if err := e.value(m[k], col, true); err != nil {
			return err
		}
	}
	return e.full()
}

func (e *yamlEmitter) seq(l []any, col int) error {
	for i, item := range l {
		if i > 0 {
			e.b.WriteString(strings.Repeat(" ", col))
		}
		e.b.WriteString("-")
		if err := e.value(item, col, false); err != nil {
			return err
		}
	}
	return e.full()
}

// value writes what follows "key:" or "-".
func (e *yamlEmitter) value(v any, col int, inMapping bool) error {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			e.b.WriteString(" {}\n")
			return nil
		}
		if inMapping {
			e.b.WriteByte('\n')
			e.b.WriteString(strings.Repeat(" ", col+e.indent))
			return e.mapping(x, col+e.indent)
		}
		e.b.WriteByte(' ')
		return e.mapping(x, col+2)
	case []any, *ordering:
		l, _ := toList(x)
		if len(l) == 0 {
			e.b.WriteString(" []\n")
			return nil
		}
		if inMapping {
			e.b.WriteByte('\n')
			e.b.WriteString(strings.Repeat(" ", col))
			return e.seq(l, col)
		}
		e.b.WriteByte(' ')
		return e.seq(l, col+2)
	}
	s, err := yamlScalar(v)
	if err != nil {
		return err
	}
	e.b.WriteByte(' ')
	e.b.WriteString(s)
	e.b.WriteByte('\n')
	return nil
}

// yamlImplicit matches the plain scalars YAML 1.1 (PyYAML's resolver) reads
// as something other than a string.
var yamlImplicit = regexp.MustCompile(`^(?:` +
	`yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF` +
	`|~|null|Null|NULL` +
	`|[-+]?(?:0|[1-9][0-9_]*)` +
	`|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+` +
	`|[-+]?(?:[0-9][0-9_]*)?\.[0-9.]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` +
	`|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*` +
	`|<<|=` +
	`)$`)

func yamlScalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "null", nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return ".nan", nil
		case math.IsInf(x, 1):
			return ".inf", nil
		case math.IsInf(x, -1):
			return "-.inf", nil
		}
		s := pyfmt.Float(x)
		if i := strings.Index(s, "e"); i >= 0 && !strings.Contains(s[:i], ".") {
			s = s[:i] + ".0" + s[i:] // PyYAML writes 1.0e+16
		}
		return s, nil
	case string:
		return yamlString(x), nil
	}
	return "", fmt.Errorf("a %s cannot be written as YAML", typeName(v))
}

func yamlString(s string) string {
	if yamlPlain(s) {
		return s
	}
	printable := true
	for _, r := range s {
		if r == '\n' || r == '\r' || (!unicode.IsPrint(r) && r != ' ') {
			printable = false
			break
		}
	}
	if printable {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var b strings.Builder
	pyfmt.JSONString(&b, s)
	return b.String()
}

func yamlPlain(s string) bool {
	if s == "" || yamlImplicit.MatchString(s) || s[len(s)-1] == ' ' {
		return false
	}
	for i, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '/':
		case i > 0 && (r == ' ' || r == '-' || r == '+' || r == '=' || r == '@' || r == '(' || r == ')' || r == '$' || r == '^' || r == '~'):
		case i == 0 && r == '-' && len(s) > 1 && s[1] != ' ':
		default:
			return false
		}
	}
	return !strings.Contains(s, " #") && !strings.Contains(s, ": ")
}
