package yaql

// StackStorm's own expression functions, which st2's Orquesta runner
// registers for YAQL beside Orquesta's (st2common/expressions/functions and
// contrib/runners/orquesta_runner/setup.py). st2kv() and task() read
// StackStorm state and are left to the workflow engine.

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/attune-io/attune/internal/pyfmt"
	"gopkg.in/yaml.v3"
)

// NoneMagicValue is what use_none() returns for null, as in StackStorm.
const NoneMagicValue = "%*****__%NONE%__*****%"

func init() {
	fromJSON := func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			s = pyStr(v)
		}
		return parseJSON(c, s)
	}
	def("from_json_string", 1, 1, fromJSON)
	def("json_parse", 1, 1, fromJSON)
	fromYAML := func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			s = pyStr(v)
		}
		if err := c.ev.checkString(len(s)); err != nil {
			return nil, err
		}
		var out any
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("%s(): %w", c.Name, err)
		}
		return Normalize(out)
	}
	def("from_yaml_string", 1, 1, fromYAML)
	def("yaml_parse", 1, 1, fromYAML)
	toJSON := func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		indent := -1
		if iv, ok, err := param(c, 1, "indent"); err != nil {
			return nil, err
		} else if ok && iv != nil {
			n, err := toInt(c, iv, "indent")
			if err != nil {
				return nil, err
			}
			indent = int(n)
		}
		sortKeys, err := boolParam(c, 2, "sort_keys", false)
		if err != nil {
			return nil, err
		}
		itemSep, keySep := ",", ": "
		if sv, ok, err := param(c, 3, "separators"); err != nil {
			return nil, err
		} else if ok && sv != nil {
			seps, err := toList(sv)
			if err != nil || len(seps) != 2 {
				return nil, fmt.Errorf("%s(): separators must be a pair of strings", c.Name)
			}
			a, aok := seps[0].(string)
			b, bok := seps[1].(string)
			if !aok || !bok {
				return nil, fmt.Errorf("%s(): separators must be a pair of strings", c.Name)
			}
			itemSep, keySep = a, b
		}
		_ = sortKeys // dictionaries are always written with sorted keys here
		return dumpJSON(c, v, indent, itemSep, keySep)
	}
	def("to_json_string", 1, 4, toJSON, "indent", "sort_keys", "separators")
	def("json_dump", 1, 4, toJSON, "indent", "sort_keys", "separators")
	def("to_complex", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		return dumpJSON(c, v, -1, ", ", ": ")
	})
	def("json_escape", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		s, err := dumpJSON(c, v, -1, ", ", ": ")
		if err != nil {
			return nil, err
		}
		return strings.Trim(s.(string), `"`), nil
	})
	toYAML := func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		indent := 2
		if iv, ok, err := param(c, 1, "indent"); err != nil {
			return nil, err
		} else if ok && iv != nil {
			n, err := toInt(c, iv, "indent")
			if err != nil {
				return nil, err
			}
			if n < 2 || n > 9 {
				n = 2
			}
			indent = int(n)
		}
		if _, err := pyStrLimit(v, c.ev.lim.MaxStringLen); err != nil {
			return nil, err
		}
		out, err := dumpYAML(v, indent, c.ev.lim.MaxStringLen)
		if err != nil {
			return nil, fmt.Errorf("%s(): %w", c.Name, err)
		}
		return out, nil
	}
	def("to_yaml_string", 1, 3, toYAML, "indent", "allow_unicode")
	def("yaml_dump", 1, 3, toYAML, "indent", "allow_unicode")
	def("use_none", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if v == nil && err == nil {
			return NoneMagicValue, nil
		}
		return v, err
	})
	def("jsonpath_query", 2, 2, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		q, err := stringArg(c, 1)
		if err != nil {
			return nil, err
		}
		matches, err := jsonPath(c, v, q)
		if err != nil || len(matches) == 0 {
			return nil, err
		}
		return matches, nil
	})
	def("basename", 1, 1, func(c *Call) (any, error) {
		p, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		return p[strings.LastIndexByte(p, '/')+1:], nil
	})
	def("dirname", 1, 1, func(c *Call) (any, error) {
		p, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		head := p[:strings.LastIndexByte(p, '/')+1]
		if head != "" && strings.Trim(head, "/") != "" {
			head = strings.TrimRight(head, "/")
		}
		return head, nil
	})
	regexFn := func(name string, extra int, named []string, f func(c *Call, re *regexp.Regexp, s string) (any, error)) {
		def(name, 2, 3+extra, func(c *Call) (any, error) {
			v, err := c.Arg(0)
			if err != nil {
				return nil, err
			}
			s, ok := v.(string)
			if !ok {
				s = pyStr(v)
			}
			p, err := stringArg(c, 1)
			if err != nil {
				return nil, err
			}
			ic, err := boolParam(c, 2+extra, "ignorecase", false)
			if err != nil {
				return nil, err
			}
			if ic {
				p = "(?i)" + p
			}
			re, err := toRegex(p)
			if err != nil {
				return nil, err
			}
			return f(c, re, s)
		}, named...)
	}
	regexFn("regex_match", 0, []string{"ignorecase"}, func(c *Call, re *regexp.Regexp, s string) (any, error) {
		loc := re.FindStringIndex(s)
		if loc != nil && loc[0] == 0 {
			return true, nil
		}
		anchored, err := regexp.Compile(`\A(?:` + re.String() + `)`)
		if err != nil {
			return nil, err
		}
		return anchored.MatchString(s), nil
	})
	regexFn("regex_search", 0, []string{"ignorecase"}, func(c *Call, re *regexp.Regexp, s string) (any, error) {
		return re.MatchString(s), nil
	})
	regexFn("regex_replace", 1, []string{"ignorecase"}, func(c *Call, re *regexp.Regexp, s string) (any, error) {
		return regexReplace(c, re, s, 2)
	})
	regexFn("regex_substring", 1, []string{"result_index", "ignorecase"}, func(c *Call, re *regexp.Regexp, s string) (any, error) {
		idx, err := intParam(c, 2, "result_index", 0)
		if err != nil {
			return nil, err
		}
		all := re.FindAllStringSubmatch(s, c.ev.lim.MaxItems)
		if idx < 0 {
			idx += int64(len(all))
		}
		if idx < 0 || idx >= int64(len(all)) {
			return nil, fmt.Errorf("regex_substring(): no match %d", idx)
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
	})
	def("to_human_time_from_seconds", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil || v == nil {
			return nil, err
		}
		if !isNumber(v) {
			return nil, unsupported(c, v)
		}
		return humanTime(v), nil
	})
	verFn := func(name string, n int, f func(a semver, c *Call) (any, error)) {
		def(name, n, n, func(c *Call) (any, error) {
			s, err := stringArg(c, 0)
			if err != nil {
				return nil, err
			}
			v, err := parseSemver(s)
			if err != nil {
				return nil, fmt.Errorf("%s(): %w", name, err)
			}
			return f(v, c)
		})
	}
	cmpWith := func(c *Call, a semver) (int, error) {
		s, err := stringArg(c, 1)
		if err != nil {
			return 0, err
		}
		b, err := parseSemver(s)
		if err != nil {
			return 0, fmt.Errorf("%s(): %w", c.Name, err)
		}
		return a.compare(b), nil
	}
	verFn("version_compare", 2, func(a semver, c *Call) (any, error) {
		r, err := cmpWith(c, a)
		return int64(r), err
	})
	for name, want := range map[string]int{"version_more_than": 1, "version_less_than": -1, "version_equal": 0} {
		want := want
		verFn(name, 2, func(a semver, c *Call) (any, error) {
			r, err := cmpWith(c, a)
			return r == want, err
		})
	}
	verFn("version_match", 2, func(a semver, c *Call) (any, error) {
		p, err := stringArg(c, 1)
		if err != nil {
			return nil, err
		}
		op := "=="
		for _, o := range []string{">=", "<=", "==", "!=", ">", "<"} {
			if strings.HasPrefix(p, o) {
				op, p = o, p[len(o):]
				break
			}
		}
		b, err := parseSemver(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("version_match(): %w", err)
		}
		r := a.compare(b)
		switch op {
		case ">":
			return r > 0, nil
		case "<":
			return r < 0, nil
		case ">=":
			return r >= 0, nil
		case "<=":
			return r <= 0, nil
		case "!=":
			return r != 0, nil
		}
		return r == 0, nil
	})
	verFn("version_bump_major", 1, func(a semver, c *Call) (any, error) {
		return fmt.Sprintf("%d.0.0", a.major+1), nil
	})
	verFn("version_bump_minor", 1, func(a semver, c *Call) (any, error) {
		return fmt.Sprintf("%d.%d.0", a.major, a.minor+1), nil
	})
	verFn("version_bump_patch", 1, func(a semver, c *Call) (any, error) {
		return fmt.Sprintf("%d.%d.%d", a.major, a.minor, a.patch+1), nil
	})
	verFn("version_strip_patch", 1, func(a semver, c *Call) (any, error) {
		return fmt.Sprintf("%d.%d", a.major, a.minor), nil
	})
}

func parseJSON(c *Call, s string) (any, error) {
	if err := c.ev.checkString(len(s)); err != nil {
		return nil, err
	}
	dec := newJSONDecoder(s)
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%s(): %w", c.Name, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s(): extra data after the JSON value", c.Name)
	}
	return Normalize(out)
}

// dumpJSON writes a value as Python's json.dumps does (ASCII only, keys
// sorted here since dictionaries keep no order).
func dumpJSON(c *Call, v any, indent int, itemSep, keySep string) (any, error) {
	limit := c.ev.lim.MaxStringLen
	s, err := pyfmt.Dumps(v, pyfmt.JSONOptions{Indent: indent, ItemSep: itemSep, KeySep: keySep, Limit: limit,
		Other: func(v any) (any, error) {
			if o, ok := v.(*ordering); ok {
				return o.items, nil
			}
			return nil, fmt.Errorf("a %s is not JSON serializable", typeName(v))
		}})
	if errors.Is(err, pyfmt.ErrTooLong) {
		err = fmt.Errorf("%w: a string longer than %d bytes", ErrLimit, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("%s(): %w", c.Name, err)
	}
	return s, nil
}

// humanTime is StackStorm's to_human_time_from_seconds: 12345 is 3h25m45s.
func humanTime(v any) string {
	f := toFloat(v)
	if f == 0 {
		return "0s"
	}
	if f < 1 {
		return pyStr(v) + "μs"
	}
	secs := int64(math.RoundToEven(f))
	if i, ok := v.(int64); ok {
		secs = i
	}
	years := secs / (365 * 86400)
	rest := secs % (365 * 86400)
	parts := []int64{years, rest / 86400, rest % 86400 / 3600, rest % 3600 / 60, rest % 60}
	first := 0
	for first < len(parts) && parts[first] == 0 {
		first++
	}
	if first == len(parts) {
		return "0s"
	}
	units := []string{"y", "d", "h", "m", "s"}
	var b strings.Builder
	for i := first; i < len(parts); i++ {
		fmt.Fprintf(&b, "%d%s", parts[i], units[i])
	}
	return b.String()
}

type semver struct {
	major, minor, patch int64
	pre                 []string
}

var semverPattern = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$`)

func parseSemver(s string) (semver, error) {
	m := semverPattern.FindStringSubmatch(s)
	if m == nil {
		return semver{}, fmt.Errorf("%s is not a valid semantic version", pyfmt.Quote(s))
	}
	var v semver
	var err error
	if v.major, err = strconv.ParseInt(m[1], 10, 64); err != nil {
		return v, err
	}
	if v.minor, err = strconv.ParseInt(m[2], 10, 64); err != nil {
		return v, err
	}
	if v.patch, err = strconv.ParseInt(m[3], 10, 64); err != nil {
		return v, err
	}
	if m[4] != "" {
		v.pre = strings.Split(m[4], ".")
	}
	return v, nil
}

// compare orders versions by semantic versioning precedence.
func (a semver) compare(b semver) int {
	for _, d := range []int64{a.major - b.major, a.minor - b.minor, a.patch - b.patch} {
		if d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, xerr := strconv.ParseInt(x, 10, 64)
		yn, yerr := strconv.ParseInt(y, 10, 64)
		switch {
		case xerr == nil && yerr == nil:
			if xn != yn {
				if xn < yn {
					return -1
				}
				return 1
			}
		case xerr == nil:
			return -1
		case yerr == nil:
			return 1
		default:
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}

// jsonPath evaluates the common part of JSONPath: $, .key, ['key'], [n],
// [*], .* and ..key (recursive descent).
func jsonPath(c *Call, v any, q string) ([]any, error) {
	q = strings.TrimSpace(q)
	if !strings.HasPrefix(q, "$") {
		return nil, fmt.Errorf("jsonpath_query(): the query must start with $")
	}
	cur := []any{v}
	rest := q[1:]
	for rest != "" {
		if err := c.ev.charge(len(cur)); err != nil {
			return nil, err
		}
		var next []any
		switch {
		case strings.HasPrefix(rest, ".."):
			rest = rest[2:]
			name, n := pathName(rest)
			if name == "" {
				return nil, fmt.Errorf("jsonpath_query(): expected a name after ..")
			}
			rest = rest[n:]
			for _, e := range cur {
				if err := descend(c, e, func(x any) {
					if m, ok := x.(map[string]any); ok {
						if name == "*" {
							for _, k := range sortedKeys(m) {
								next = append(next, m[k])
							}
						} else if val, ok := m[name]; ok {
							next = append(next, val)
						}
					}
				}); err != nil {
					return nil, err
				}
			}
		case strings.HasPrefix(rest, "."):
			rest = rest[1:]
			name, n := pathName(rest)
			if name == "" {
				return nil, fmt.Errorf("jsonpath_query(): expected a name after .")
			}
			rest = rest[n:]
			next = selectChild(cur, name)
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("jsonpath_query(): unclosed [")
			}
			sel := strings.TrimSpace(rest[1:end])
			rest = rest[end+1:]
			if len(sel) >= 2 && (sel[0] == '\'' || sel[0] == '"') && sel[len(sel)-1] == sel[0] {
				next = selectChild(cur, sel[1:len(sel)-1])
				break
			}
			if sel == "*" {
				next = selectChild(cur, "*")
				break
			}
			i, err := strconv.Atoi(sel)
			if err != nil {
				return nil, fmt.Errorf("jsonpath_query(): unsupported selector [%s]", sel)
			}
			for _, e := range cur {
				if l, err := toList(e); err == nil {
					j := i
					if j < 0 {
						j += len(l)
					}
					if j >= 0 && j < len(l) {
						next = append(next, l[j])
					}
				}
			}
		default:
			return nil, fmt.Errorf("jsonpath_query(): unexpected %q", rest)
		}
		cur = next
	}
	return cur, nil
}

func pathName(s string) (string, int) {
	if strings.HasPrefix(s, "*") {
		return "*", 1
	}
	n := 0
	for n < len(s) && s[n] != '.' && s[n] != '[' {
		n++
	}
	return s[:n], n
}

func selectChild(cur []any, name string) []any {
	var next []any
	for _, e := range cur {
		switch x := e.(type) {
		case map[string]any:
			if name == "*" {
				for _, k := range sortedKeys(x) {
					next = append(next, x[k])
				}
			} else if val, ok := x[name]; ok {
				next = append(next, val)
			}
		case []any:
			if name == "*" {
				next = append(next, x...)
			}
		}
	}
	return next
}

func descend(c *Call, v any, f func(any)) error {
	if err := c.ev.charge(1); err != nil {
		return err
	}
	f(v)
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if err := descend(c, x[k], f); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := descend(c, e, f); err != nil {
				return err
			}
		}
	}
	return nil
}
