package yaql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func joinStrings(parts []string, sep string) string { return strings.Join(parts, sep) }

// pySpace is Python's str.isspace for the characters str.split() splits on.
func pySpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\x1c' || r == '\x1d' || r == '\x1e' || r == '\x1f'
}

// runeSlice returns s[i:j] in characters, with Python's clamping.
func runeSlice(s string, i, j int) string {
	rs := []rune(s)
	n := len(rs)
	clamp := func(x int) int {
		if x < 0 {
			x += n
			if x < 0 {
				x = 0
			}
		}
		if x > n {
			x = n
		}
		return x
	}
	i, j = clamp(i), clamp(j)
	if i >= j {
		return ""
	}
	return string(rs[i:j])
}

func init() {
	strFn := func(name string, f func(string) string) {
		def(name, 1, 1, func(c *Call) (any, error) {
			s, err := stringArg(c, 0)
			if err != nil {
				return nil, err
			}
			return c.str(f(s))
		})
	}
	strFn("toUpper", strings.ToUpper)
	strFn("toLower", strings.ToLower)
	def("str", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		s, err := yaqlStrLimit(v, c.ev.lim.MaxStringLen)
		if err != nil {
			return nil, err
		}
		return s, nil
	})
	split := func(name string, right bool) {
		def(name, 1, 3, func(c *Call) (any, error) {
			v, err := c.Arg(0)
			if err != nil {
				return nil, err
			}
			if re, ok := v.(regexpT); ok && !right {
				s, err := stringArg(c, 1)
				if err != nil {
					return nil, err
				}
				max, err := intParam(c, 2, "maxSplit", 0)
				if err != nil {
					return nil, err
				}
				return regexSplit(c, re, s, max)
			}
			s, ok := v.(string)
			if !ok {
				return nil, unsupported(c, v)
			}
			if c.Len() > 1 && !right {
				sepV, err := c.Arg(1)
				if err != nil {
					return nil, err
				}
				if re, ok := sepV.(regexpT); ok {
					max, err := intParam(c, 2, "maxSplit", 0)
					if err != nil {
						return nil, err
					}
					return regexSplit(c, re, s, max)
				}
			}
			sep, hasSep, err := optStringParam(c, 1, "separator")
			if err != nil {
				return nil, err
			}
			max, err := intParam(c, 2, "maxSplits", -1)
			if err != nil {
				return nil, err
			}
			parts, err := pySplit(s, sep, hasSep, int(max), right)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(parts))
			for i, p := range parts {
				out[i] = p
			}
			return out, c.ev.checkItems(len(out))
		}, "separator", "maxSplits", "maxSplit")
	}
	split("split", false)
	split("rightSplit", true)
	trim := func(name string, left, right bool) {
		def(name, 1, 2, func(c *Call) (any, error) {
			s, err := stringArg(c, 0)
			if err != nil {
				return nil, err
			}
			chars, has, err := optStringParam(c, 1, "chars")
			if err != nil {
				return nil, err
			}
			return pyStrip(s, chars, has, left, right), nil
		}, "chars")
	}
	trim("trim", true, true)
	trim("trimLeft", true, false)
	trim("trimRight", false, true)
	def("norm", 1, 2, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil || v == nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, unsupported(c, v)
		}
		chars, has, err := optStringParam(c, 1, "chars")
		if err != nil {
			return nil, err
		}
		if s = pyStrip(s, chars, has, true, true); s == "" {
			return nil, nil
		}
		return s, nil
	}, "chars")
	def("isEmpty", 1, 3, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil || v == nil {
			return true, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, unsupported(c, v)
		}
		trimSpaces, err := boolParam(c, 1, "trimSpaces", true)
		if err != nil {
			return nil, err
		}
		if t, ok, err := c.Named("trim"); err != nil {
			return nil, err
		} else if ok {
			trimSpaces = truthy(t)
		}
		chars, has, err := optStringParam(c, 2, "chars")
		if err != nil {
			return nil, err
		}
		if trimSpaces {
			s = pyStrip(s, chars, has, true, true)
		}
		return s == "", nil
	}, "trimSpaces", "trim", "chars")
	def("substring", 2, 3, func(c *Call) (any, error) {
		s, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		start, err := intParam(c, 1, "start", 0)
		if err != nil {
			return nil, err
		}
		length, err := intParam(c, 2, "length", -1)
		if err != nil {
			return nil, err
		}
		n := int64(runeLen(s))
		if length < 0 {
			length = n
		}
		if start < 0 {
			start += n
		}
		end := start + length
		if end > n {
			end = n
		}
		if start < 0 && end >= 0 {
			// Python's s[start:end] with a still negative start counts from the end.
			return runeSlice(s, int(start), int(end)), nil
		}
		if start > n {
			return "", nil
		}
		return runeSlice(s, int(start), int(end)), nil
	}, "start", "length")
	def("toCharArray", 1, 1, func(c *Call) (any, error) {
		s, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, r := range s {
			out = append(out, string(r))
		}
		return out, c.ev.checkItems(len(out))
	})
	def("isString", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		_, ok := v.(string)
		return ok, err
	})
	affix := func(name string, f func(s, p string) bool) {
		def(name, 2, -1, func(c *Call) (any, error) {
			s, err := stringArg(c, 0)
			if err != nil {
				return nil, err
			}
			for i := 1; i < c.Len(); i++ {
				p, err := stringArg(c, i)
				if err != nil {
					return nil, err
				}
				if f(s, p) {
					return true, nil
				}
			}
			return false, nil
		})
	}
	affix("startsWith", strings.HasPrefix)
	affix("endsWith", strings.HasSuffix)
	def("hex", 1, 1, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		n, ok := v.(int64)
		if !ok {
			return nil, unsupported(c, v)
		}
		if n < 0 {
			return "-0x" + strconv.FormatUint(uint64(-n), 16), nil
		}
		return "0x" + strconv.FormatInt(n, 16), nil
	})
	// replace: string.replace(old, new, count), string.replace(dict, count),
	// string.replace(regex, repl, count), regex.replace(string, repl, count)
	// and collection.replace(position, value, count).
	def("replace", 2, 4, func(c *Call) (any, error) {
		v, err := c.Arg(0)
		if err != nil {
			return nil, err
		}
		a, err := c.Arg(1)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case string:
			switch y := a.(type) {
			case string:
				repl, err := stringArg(c, 2)
				if err != nil {
					return nil, err
				}
				count, err := intParam(c, 3, "count", -1)
				if err != nil {
					return nil, err
				}
				return c.str(strings.Replace(x, y, repl, int(count)))
			case map[string]any:
				count, err := intParam(c, 2, "count", -1)
				if err != nil {
					return nil, err
				}
				// Go maps keep no insertion order: replace longer keys first,
				// which is what the order in a written dictionary usually means.
				keys := sortedKeys(y)
				sort.SliceStable(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
				for _, k := range keys {
					r, err := yaqlStrLimit(y[k], c.ev.lim.MaxStringLen)
					if err != nil {
						return nil, err
					}
					x = strings.Replace(x, k, r, int(count))
					if err := c.ev.checkString(len(x)); err != nil {
						return nil, err
					}
				}
				return x, nil
			}
			if re, ok := a.(regexpT); ok {
				return regexReplace(c, re, x, 2)
			}
		case regexpT:
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("regex.replace() needs a string, not a %s", typeName(a))
			}
			return regexReplace(c, x, s, 2)
		}
		l, lerr := toList(v)
		if lerr != nil {
			return nil, unsupported(c, v)
		}
		pos, err := toInt(c, a, "position")
		if err != nil {
			return nil, err
		}
		val, err := c.Arg(2)
		if err != nil {
			return nil, err
		}
		count, err := intParam(c, 3, "count", 1)
		if err != nil {
			return nil, err
		}
		return replaceItems(c, l, pos, count, []any{val})
	}, "count")
	// format: Python's str.format with {} {0} {name} placeholders.
	defAny("format", 1, -1, func(c *Call) (any, error) {
		f, err := stringArg(c, 0)
		if err != nil {
			return nil, err
		}
		args, err := c.Args()
		if err != nil {
			return nil, err
		}
		return pyFormat(c, f, args[1:])
	})
}

// stringIndex is indexOf/lastIndexOf on a string: (sub, start) or (sub, start, length).
func stringIndex(c *Call, s string, last bool) (any, error) {
	sub, err := stringArg(c, 1)
	if err != nil {
		return nil, err
	}
	n := runeLen(s)
	start, err := intParam(c, 2, "start", 0)
	if err != nil {
		return nil, err
	}
	length, err := intParam(c, 3, "length", -1)
	if err != nil {
		return nil, err
	}
	if c.Len() == 4 && start < 0 {
		start += int64(n)
	}
	if start < 0 {
		start += int64(n)
		if start < 0 {
			start = 0
		}
	}
	end := int64(n)
	if c.Len() == 4 && length >= 0 && start+length < end {
		end = start + length
	}
	if start > int64(n) || start > end {
		return int64(-1), nil
	}
	window := runeSlice(s, int(start), int(end))
	var i int
	if last {
		i = strings.LastIndex(window, sub)
	} else {
		i = strings.Index(window, sub)
	}
	if i < 0 {
		return int64(-1), nil
	}
	return start + int64(utf8.RuneCountInString(window[:i])), nil
}

// pySplit is Python's str.split / str.rsplit.
func pySplit(s, sep string, hasSep bool, max int, right bool) ([]string, error) {
	if hasSep {
		if sep == "" {
			return nil, fmt.Errorf("split(): empty separator")
		}
		if max < 0 {
			return strings.Split(s, sep), nil
		}
		if !right {
			return strings.SplitN(s, sep, max+1), nil
		}
		var out []string
		for len(out) < max {
			i := strings.LastIndex(s, sep)
			if i < 0 {
				break
			}
			out = append(out, s[i+len(sep):])
			s = s[:i]
		}
		out = append(out, s)
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out, nil
	}
	if max < 0 {
		return strings.FieldsFunc(s, pySpace), nil
	}
	var out []string
	if !right {
		rest := strings.TrimLeftFunc(s, pySpace)
		for rest != "" && len(out) < max {
			i := strings.IndexFunc(rest, pySpace)
			if i < 0 {
				break
			}
			out = append(out, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], pySpace)
		}
		if rest != "" {
			out = append(out, rest)
		}
		return out, nil
	}
	rest := strings.TrimRightFunc(s, pySpace)
	for rest != "" && len(out) < max {
		i := strings.LastIndexFunc(rest, pySpace)
		if i < 0 {
			break
		}
		_, size := utf8.DecodeRuneInString(rest[i:])
		out = append(out, rest[i+size:])
		rest = strings.TrimRightFunc(rest[:i], pySpace)
	}
	if rest != "" {
		out = append(out, rest)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func pyStrip(s, chars string, hasChars, left, right bool) string {
	f := pySpace
	if hasChars {
		f = func(r rune) bool { return strings.ContainsRune(chars, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

// pyFormat implements the common part of Python's str.format: {} {0} {name}
// with {{ and }} escapes; format specs are not supported.
func pyFormat(c *Call, f string, args []any) (any, error) {
	var b strings.Builder
	auto := 0
	for i := 0; i < len(f); i++ {
		ch := f[i]
		if ch == '}' {
			if i+1 < len(f) && f[i+1] == '}' {
				i++
			}
			b.WriteByte('}')
			continue
		}
		if ch != '{' {
			b.WriteByte(ch)
			continue
		}
		if i+1 < len(f) && f[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		end := strings.IndexByte(f[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("format(): unmatched '{'")
		}
		field := f[i+1 : i+end]
		i += end
		var v any
		switch n, err := strconv.Atoi(field); {
		case field == "":
			if auto >= len(args) {
				return nil, fmt.Errorf("format(): not enough arguments")
			}
			v = args[auto]
			auto++
		case err == nil:
			if n < 0 || n >= len(args) {
				return nil, fmt.Errorf("format(): no argument %d", n)
			}
			v = args[n]
		default:
			nv, ok, err := c.Named(field)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("format(): no argument named %q", field)
			}
			v = nv
		}
		vs, err := pyStrLimit(v, c.ev.lim.MaxStringLen)
		if err != nil {
			return nil, err
		}
		b.WriteString(vs)
		if err := c.ev.checkString(b.Len()); err != nil {
			return nil, err
		}
	}
	return b.String(), nil
}

func init() {
	classes := []struct{ name, chars string }{
		{"digits", "0123456789"},
		{"hexdigits", "0123456789abcdefABCDEF"},
		{"asciiLowercase", "abcdefghijklmnopqrstuvwxyz"},
		{"asciiUppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"asciiLetters", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"letters", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"octdigits", "01234567"},
		{"punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
		{"printable", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c"},
		{"lowercase", "abcdefghijklmnopqrstuvwxyz"},
		{"uppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"whitespace", " \t\n\r\x0b\x0c"},
	}
	names := make([]string, len(classes))
	for i, cl := range classes {
		names[i] = cl.name
	}
	// characters(digits => true, …): the distinct characters of the chosen classes.
	def("characters", 0, 0, func(c *Call) (any, error) {
		out := []any{}
		seen := map[rune]bool{}
		for _, cl := range classes {
			on, _, err := c.Named(cl.name)
			if err != nil {
				return nil, err
			}
			if !truthy(on) {
				continue
			}
			for _, r := range cl.chars {
				if !seen[r] {
					seen[r] = true
					out = append(out, string(r))
				}
			}
		}
		return out, nil
	}, names...)
}
