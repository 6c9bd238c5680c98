package yaql

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

type regexpT = *regexp.Regexp

func init() {
	def("regex", 1, 4, func(c *Call) (any, error) {
		p, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		flags := ""
		for i, f := range []struct{ name, flag string }{{"ignoreCase", "i"}, {"multiLine", "m"}, {"dotAll", "s"}} {
			on, err := boolParam(c, i+1, f.name, false)
			if err != nil {
				return nil, err
			}
			if on {
				flags += f.flag
			}
		}
		if flags != "" {
			p = "(?" + flags + ")" + p
		}
		return toRegex(p)
	}, "ignoreCase", "multiLine", "dotAll")
	// matches: regex.matches(string) or string.matches(pattern).
	def("matches", 2, 2, func(c *Call) (any, error) {
		re, s, err := regexAndString(c)
		if err != nil {
			return nil, err
		}
		return re.MatchString(s), nil
	})
	def("search", 2, 3, func(c *Call) (any, error) {
		re, s, err := regexAndString(c)
		if err != nil {
			return nil, err
		}
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return nil, nil
		}
		sel, ok := paramLambda(c, 2, "selector")
		if !ok {
			return s[m[0]:m[1]], nil
		}
		return matchScope(c, re, s, m, sel)
	}, "selector")
	def("searchAll", 2, 3, func(c *Call) (any, error) {
		re, s, err := regexAndString(c)
		if err != nil {
			return nil, err
		}
		sel, hasSel := paramLambda(c, 2, "selector")
		out := []any{}
		for _, m := range re.FindAllStringSubmatchIndex(s, c.ev.lim.MaxItems+1) {
			var v any = s[m[0]:m[1]]
			if hasSel {
				if v, err = matchScope(c, re, s, m, sel); err != nil {
					return nil, err
				}
			}
			if out, err = c.appendItem(out, v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}, "selector")
	def("replaceBy", 3, 4, func(c *Call) (any, error) {
		re, s, err := regexAndString(c)
		if err != nil {
			return nil, err
		}
		sel := c.Lambda(2)
		count, err := intParam(c, 3, "count", 0)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		last := 0
		for i, m := range re.FindAllStringSubmatchIndex(s, -1) {
			if count > 0 && int64(i) >= count {
				break
			}
			v, err := matchScope(c, re, s, m, sel)
			if err != nil {
				return nil, err
			}
			b.WriteString(s[last:m[0]])
			vs, err := yaqlStrLimit(v, c.ev.lim.MaxStringLen)
			if err != nil {
				return nil, err
			}
			b.WriteString(vs)
			last = m[1]
			if err := c.ev.checkString(b.Len()); err != nil {
				return nil, err
			}
		}
		b.WriteString(s[last:])
		return c.str(b.String())
	}, "count")
	def("escapeRegex", 1, 1, func(c *Call) (any, error) {
		s, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		return regexp.QuoteMeta(s), nil
	})
	def("isRegex", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, ok := v.(regexpT)
		return ok, err
	})
}

// regexAndString reads (regex, string) from regex.f(string) or string.f(pattern).
func regexAndString(c *Call) (*regexp.Regexp, string, error) {
	a, err := c.Arg(0)
	if err != nil {
		return nil, "", err
	}
	b, err := c.Arg(1)
	if err != nil {
		return nil, "", err
	}
	if re, ok := a.(regexpT); ok {
		s, ok := b.(string)
		if !ok {
			return nil, "", fmt.Errorf("%s needs a string, not a %s", describeCall(c), typeName(b))
		}
		return re, s, nil
	}
	s, ok := a.(string)
	if !ok {
		return nil, "", unsupported(c, a)
	}
	re, err := toRegex(b)
	return re, s, err
}

// matchScope evaluates sel with the match published as YAQL does: $1 is the
// whole match, $2… the groups, $name the named groups, each as
// {value, start, end} with positions in characters.
func matchScope(c *Call, re *regexp.Regexp, s string, m []int, sel func(args ...any) (any, error)) (any, error) {
	rec := func(g int) any {
		if m[2*g] < 0 {
			return map[string]any{"value": nil, "start": int64(-1), "end": int64(-1)}
		}
		return map[string]any{
			"value": s[m[2*g]:m[2*g+1]],
			"start": int64(utf8.RuneCountInString(s[:m[2*g]])),
			"end":   int64(utf8.RuneCountInString(s[:m[2*g+1]])),
		}
	}
	args := make([]any, 0, len(m)/2)
	for g := 0; g < len(m)/2; g++ {
		args = append(args, rec(g))
	}
	v, err := sel(args...)
	_ = re
	return v, err
}

func regexSplit(c *Call, re *regexp.Regexp, s string, max int64) (any, error) {
	// Python's re.split: the text between matches, with each match's groups
	// in between; at most max splits when max > 0.
	out := []any{}
	last := 0
	for k, m := range re.FindAllStringSubmatchIndex(s, -1) {
		if max > 0 && int64(k) >= max {
			break
		}
		if m[1] == m[0] && (m[0] == 0 || m[0] == len(s)) {
			continue
		}
		out = append(out, s[last:m[0]])
		for g := 1; g < len(m)/2; g++ {
			if m[2*g] < 0 {
				out = append(out, nil)
			} else {
				out = append(out, s[m[2*g]:m[2*g+1]])
			}
		}
		last = m[1]
		if err := c.ev.checkItems(len(out)); err != nil {
			return nil, err
		}
	}
	out = append(out, s[last:])
	return out, nil
}

// regexReplace substitutes matches of re in s with a Python-style replacement
// (\1, \g<1>, \g<name>); argument i is the replacement, i+1 the count.
func regexReplace(c *Call, re *regexp.Regexp, s string, i int) (any, error) {
	repl, err := stringArg(c, i)
	if err != nil {
		return nil, err
	}
	count, err := intParam(c, i+1, "count", 0)
	if err != nil {
		return nil, err
	}
	tmpl := pyReplTemplate(repl)
	var b []byte
	last := 0
	for k, m := range re.FindAllStringSubmatchIndex(s, -1) {
		if count > 0 && int64(k) >= count {
			break
		}
		b = append(b, s[last:m[0]]...)
		b = re.ExpandString(b, tmpl, s, m)
		last = m[1]
		if err := c.ev.checkString(len(b)); err != nil {
			return nil, err
		}
	}
	b = append(b, s[last:]...)
	return c.str(string(b))
}

// pyReplTemplate turns a Python re.sub replacement into a Go Expand template.
func pyReplTemplate(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		ch := r[i]
		switch {
		case ch == '$':
			b.WriteString("$$")
		case ch == '\\' && i+1 < len(r):
			n := r[i+1]
			switch {
			case n >= '0' && n <= '9':
				j := i + 1
				for j < len(r) && j < i+3 && r[j] >= '0' && r[j] <= '9' {
					j++
				}
				b.WriteString("${" + r[i+1:j] + "}")
				i = j - 1
			case n == 'g' && i+2 < len(r) && r[i+2] == '<':
				end := strings.IndexByte(r[i:], '>')
				if end < 0 {
					b.WriteString(`\g`)
					i++
					continue
				}
				b.WriteString("${" + r[i+3:i+end] + "}")
				i += end
			case n == 'n':
				b.WriteByte('\n')
				i++
			case n == 't':
				b.WriteByte('\t')
				i++
			case n == '\\':
				b.WriteByte('\\')
				i++
			default:
				b.WriteByte('\\')
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
