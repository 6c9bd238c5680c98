package jinja

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/theory/jsonpath"
	"gopkg.in/yaml.v3"
)

// NoneMagic is what use_none makes of None: StackStorm's marker, turned
// back into null when parameters are cast.
const NoneMagic = "%*****__%NONE%__*****%"

// filter is a StackStorm filter on plain Go values (what JSON decodes to).
type filter func(in any, args []any, kwargs map[string]any) (any, error)

// stackstormFilters are the filters StackStorm adds to Jinja
// (st2common/util/jinja.py get_filters).
func (e *Env) stackstormFilters() map[string]exec.FilterFunction {
	plain := map[string]filter{
		"from_json_string":           fromJSONString,
		"from_yaml_string":           fromYAMLString,
		"json_escape":                jsonEscape,
		"jsonpath_query":             jsonpathQuery,
		"to_complex":                 toComplex,
		"to_json_string":             toJSONString,
		"to_yaml_string":             toYAMLString,
		"regex_match":                regexMatch,
		"regex_replace":              regexReplace,
		"regex_search":               regexSearch,
		"regex_substring":            regexSubstring,
		"to_human_time_from_seconds": toHumanTime,
		"version_compare":            versionCompare,
		"version_more_than":          versionCmp(1),
		"version_less_than":          versionCmp(-1),
		"version_equal":              versionCmp(0),
		"version_match":              versionMatch,
		"version_bump_major":         versionBump(0),
		"version_bump_minor":         versionBump(1),
		"version_bump_patch":         versionBump(2),
		"version_strip_patch":        versionStripPatch,
		"use_none":                   useNone,
		"basename":                   func(in any, _ []any, _ map[string]any) (any, error) { return pyBasename(str(in)), nil },
		"dirname":                    func(in any, _ []any, _ map[string]any) (any, error) { return pyDirname(str(in)), nil },
	}
	out := map[string]exec.FilterFunction{}
	for name, f := range plain {
		out[name] = adapt(name, f)
	}
	out["decrypt_kv"] = e.decryptKV
	return out
}

// adapt turns a plain filter into a gonja one.
func adapt(name string, f filter) exec.FilterFunction {
	return func(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
		if in.IsError() {
			return in
		}
		args := make([]any, len(params.Args))
		for i, a := range params.Args {
			args[i] = goValue(a)
		}
		kwargs := map[string]any{}
		for k, a := range params.KwArgs {
			kwargs[k] = goValue(a)
		}
		out, err := f(goValue(in), args, kwargs)
		if err != nil {
			return exec.AsValue(fmt.Errorf("%s: %w", name, err))
		}
		return exec.AsValue(out)
	}
}

// goValue converts a template value to plain Go values: maps, lists,
// strings, numbers, booleans and nil. A key-store lookup becomes its value.
func goValue(v *exec.Value) any {
	if v == nil || v.IsNil() {
		return nil
	}
	if k, ok := v.Interface().(*KeyNode); ok {
		return k.value()
	}
	if x, ok := v.Interface().(Valuer); ok {
		return normalize(x.JinjaValue())
	}
	out := v.ToGoSimpleType(false)
	if _, ok := out.(error); ok {
		// Not representable (a dict with non-string keys…): its text.
		return v.String()
	}
	return normalize(out)
}

// normalize turns the numbers of a decoded value into int where they are
// whole, so 3 prints as 3 and not 3.0, and gonja's nested *Value into
// plain values.
func normalize(v any) any {
	switch t := v.(type) {
	case *exec.Value:
		return goValue(t)
	case Valuer:
		return normalize(t.JinjaValue())
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalize(e)
		}
		return out
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i)
		}
		f, _ := t.Float64()
		return f
	case int64:
		return int(t)
	case float32:
		return float64(t)
	}
	return v
}

// str is Python's str() of a plain value.
func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "None"
	}
	return pyRepr(v)
}

func arg(args []any, kwargs map[string]any, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if v, ok := kwargs[name]; ok {
		return v
	}
	return def
}

func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case int:
		return t != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

func fromJSONString(in any, _ []any, _ map[string]any) (any, error) {
	dec := json.NewDecoder(strings.NewReader(str(in)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not JSON: trailing data")
	}
	return normalize(v), nil
}

func fromYAMLString(in any, _ []any, _ map[string]any) (any, error) {
	var v any
	if err := yaml.Unmarshal([]byte(str(in)), &v); err != nil {
		return nil, fmt.Errorf("not YAML: %v", err)
	}
	return normalize(yamlPlain(v)), nil
}

// yamlPlain turns yaml.v3's map[any]any (non-string keys) into string keys.
func yamlPlain(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = yamlPlain(e)
		}
		return t
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[str(k)] = yamlPlain(e)
		}
		return out
	case []any:
		for i, e := range t {
			t[i] = yamlPlain(e)
		}
		return t
	case time.Time:
		return t.Format(time.RFC3339Nano)
	}
	return v
}

func toJSONString(in any, args []any, kwargs map[string]any) (any, error) {
	indent := -1
	if v := arg(args, kwargs, 0, "indent", nil); v != nil {
		n, ok := v.(int)
		if !ok || n < 0 || n > 64 {
			return nil, errors.New("indent must be an integer from 0 to 64")
		}
		indent = n
	}
	// sort_keys (argument 1) is always on: Go maps keep no insertion order.
	itemSep, keySep := ",", ": "
	if v := arg(args, kwargs, 2, "separators", nil); v != nil {
		l, ok := v.([]any)
		if !ok || len(l) != 2 {
			return nil, errors.New("separators must be a pair of strings")
		}
		itemSep, keySep = str(l[0]), str(l[1])
	}
	return pyJSON(in, indent, itemSep, keySep), nil
}

func toYAMLString(in any, args []any, kwargs map[string]any) (any, error) {
	indent := 2
	if v := arg(args, kwargs, 0, "indent", nil); v != nil {
		n, ok := v.(int)
		if !ok || n < 2 || n > 9 {
			return nil, errors.New("indent must be an integer from 2 to 9")
		}
		indent = n
	}
	return pyYAML(in, indent), nil
}

func jsonEscape(in any, _ []any, _ map[string]any) (any, error) {
	return strings.Trim(pyJSON(in, -1, ", ", ": "), `"`), nil
}

func toComplex(in any, _ []any, _ map[string]any) (any, error) {
	return pyJSON(in, -1, ", ", ": "), nil
}

func useNone(in any, _ []any, _ map[string]any) (any, error) {
	if in == nil {
		return NoneMagic, nil
	}
	return in, nil
}

func jsonpathQuery(in any, args []any, kwargs map[string]any) (any, error) {
	q, ok := arg(args, kwargs, 0, "query", nil).(string)
	if !ok {
		return nil, errors.New("the query must be a string")
	}
	q = strings.TrimSpace(q)
	if !strings.HasPrefix(q, "$") {
		// jsonpath_rw takes paths without the root: "a.b[*]".
		if strings.HasPrefix(q, "[") {
			q = "$" + q
		} else {
			q = "$." + q
		}
	}
	p, err := jsonpath.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("invalid query: %v", err)
	}
	var doc any
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	matches := p.Select(doc)
	if len(matches) == 0 {
		return nil, nil
	}
	out := make([]any, len(matches))
	for i, m := range matches {
		out[i] = normalize(m)
	}
	return out, nil
}

// pyRegexp compiles a Python regular expression with Go's engine (RE2:
// no backreferences or lookaround, linear time).
func pyRegexp(pattern any, ignorecase any) (*regexp.Regexp, error) {
	p, ok := pattern.(string)
	if !ok {
		return nil, errors.New("the pattern must be a string")
	}
	if truthy(ignorecase) {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("invalid pattern: %v", err)
	}
	return re, nil
}

func regexMatch(in any, args []any, kwargs map[string]any) (any, error) {
	re, err := pyRegexp(arg(args, kwargs, 0, "pattern", nil), arg(args, kwargs, 1, "ignorecase", false))
	if err != nil {
		return nil, err
	}
	loc := re.FindStringIndex(str(in))
	return loc != nil && loc[0] == 0, nil
}

func regexSearch(in any, args []any, kwargs map[string]any) (any, error) {
	re, err := pyRegexp(arg(args, kwargs, 0, "pattern", nil), arg(args, kwargs, 1, "ignorecase", false))
	if err != nil {
		return nil, err
	}
	return re.MatchString(str(in)), nil
}

func regexReplace(in any, args []any, kwargs map[string]any) (any, error) {
	re, err := pyRegexp(arg(args, kwargs, 0, "pattern", nil), arg(args, kwargs, 2, "ignorecase", false))
	if err != nil {
		return nil, err
	}
	repl, ok := arg(args, kwargs, 1, "replacement", nil).(string)
	if !ok {
		return nil, errors.New("the replacement must be a string")
	}
	tmpl, err := pyReplacement(repl, re)
	if err != nil {
		return nil, err
	}
	return re.ReplaceAllString(str(in), tmpl), nil
}

// pyReplacement converts a Python re.sub replacement (\1, \g<1>,
// \g<name>, \n) to Go's template syntax (${1}, $$ for a literal $).
func pyReplacement(repl string, re *regexp.Regexp) (string, error) {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(repl):
			i++
			d := repl[i]
			switch {
			case d >= '0' && d <= '9':
				j := i
				for j < len(repl) && j < i+2 && repl[j] >= '0' && repl[j] <= '9' {
					j++
				}
				n, _ := strconv.Atoi(repl[i:j])
				if n > re.NumSubexp() {
					return "", fmt.Errorf("invalid group reference %d", n)
				}
				fmt.Fprintf(&b, "${%d}", n)
				i = j - 1
			case d == 'g' && i+1 < len(repl) && repl[i+1] == '<':
				end := strings.IndexByte(repl[i:], '>')
				if end < 0 {
					return "", errors.New("missing > in group reference")
				}
				name := repl[i+2 : i+end]
				if n, err := strconv.Atoi(name); err == nil && n > re.NumSubexp() {
					return "", fmt.Errorf("invalid group reference %d", n)
				} else if err != nil && re.SubexpIndex(name) < 0 {
					return "", fmt.Errorf("unknown group name %q", name)
				}
				fmt.Fprintf(&b, "${%s}", name)
				i += end
			case d == 'n':
				b.WriteByte('\n')
			case d == 't':
				b.WriteByte('\t')
			case d == 'r':
				b.WriteByte('\r')
			case d == '\\':
				b.WriteByte('\\')
			default:
				b.WriteByte('\\')
				b.WriteByte(d)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func regexSubstring(in any, args []any, kwargs map[string]any) (any, error) {
	re, err := pyRegexp(arg(args, kwargs, 0, "pattern", nil), arg(args, kwargs, 2, "ignorecase", false))
	if err != nil {
		return nil, err
	}
	idx, ok := arg(args, kwargs, 1, "result_index", 0).(int)
	if !ok {
		return nil, errors.New("result_index must be an integer")
	}
	all := re.FindAllStringSubmatch(str(in), -1)
	if idx < 0 {
		idx += len(all)
	}
	if idx < 0 || idx >= len(all) {
		return nil, errors.New("list index out of range")
	}
	m := all[idx]
	switch len(m) {
	case 1:
		return m[0], nil
	case 2:
		return m[1], nil
	}
	groups := make([]any, len(m)-1)
	for i, g := range m[1:] {
		groups[i] = g
	}
	return groups, nil
}

// toHumanTime is StackStorm's to_human_time_from_seconds, with its way of
// counting: days are the day of the month of year 1 plus the seconds, so
// whole months are dropped (40 days read "9d…").
func toHumanTime(in any, _ []any, _ map[string]any) (any, error) {
	var secs int64
	switch t := in.(type) {
	case int:
		secs = int64(t)
	case float64:
		if t == 0 {
			return "0s", nil
		}
		if t < 1 {
			return pyRepr(t) + "\u03BCs", nil
		}
		secs = int64(math.RoundToEven(t))
	default:
		return nil, errors.New("seconds must be a number")
	}
	if secs == 0 {
		return "0s", nil
	}
	if secs < 1 {
		return strconv.FormatInt(secs, 10) + "\u03BCs", nil
	}
	if secs > 999_999*365*86400 {
		return nil, errors.New("date value out of range")
	}
	d := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).
		AddDate(0, 0, int(secs/86400)).Add(time.Duration(secs%86400) * time.Second)
	parts := []int{d.Year() - 1, d.Day() - 1, d.Hour(), d.Minute(), d.Second()}
	first := -1
	for i, p := range parts {
		if p != 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return "0s", nil
	}
	parts = parts[first:]
	units := []string{"y", "d", "h", "m", "s"}[5-len(parts):]
	var b strings.Builder
	for i, p := range parts {
		fmt.Fprintf(&b, "%d%s", p, units[i])
	}
	return b.String(), nil
}

// pyBasename and pyDirname are Python's os.path.basename and dirname,
// which differ from path.Base and path.Dir on trailing slashes and "".
func pyBasename(p string) string {
	i := strings.LastIndexByte(p, '/')
	return p[i+1:]
}

func pyDirname(p string) string {
	i := strings.LastIndexByte(p, '/')
	head := p[:i+1]
	if head != "" && strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head
}

// decryptKV is decrypt_kv: the plaintext of a secret key's stored form.
// The plaintext is recorded on the render so callers can redact it.
// Decrypter is a key-store lookup that decrypts itself: decrypt_kv asks it
// instead of decrypting the stored form with Options.Decrypt.
type Decrypter interface {
	DecryptKV() (any, error)
}

func (e *Env) decryptKV(ev *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if d, ok := in.Interface().(Decrypter); ok {
		plain, err := d.DecryptKV()
		if err != nil {
			return exec.AsValue(fmt.Errorf("decrypt_kv: %v", err))
		}
		if b, ok := budgetOf(ev.Environment.Context); ok {
			b.decrypted = append(b.decrypted, str(plain))
		}
		return exec.AsValue(plain)
	}
	var ciphertext string
	if k, ok := in.Interface().(*KeyNode); ok {
		v := k.value()
		if v == nil || v == "" {
			return exec.AsValue(fmt.Errorf("decrypt_kv: Referenced datastore item %q doesn't exist or it contains an empty string", k.Ref()))
		}
		ciphertext = str(v)
	} else {
		ciphertext = in.String()
	}
	if e.opts.Decrypt == nil {
		return exec.AsValue(errors.New("decrypt_kv: no encryption key is configured"))
	}
	plain, err := e.opts.Decrypt(ciphertext)
	if err != nil {
		return exec.AsValue(fmt.Errorf("decrypt_kv: %v", err))
	}
	if b, ok := budgetOf(ev.Environment.Context); ok {
		b.decrypted = append(b.decrypted, str(plain))
	}
	return exec.AsValue(plain)
}

func budgetOf(c *exec.Context) (*budget, bool) {
	v, _ := c.Get(budgetKey)
	b, ok := v.(*budget)
	return b, ok
}
