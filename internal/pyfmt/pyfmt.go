// Package pyfmt writes values as Python prints them: json.dumps's string
// escaping with ensure_ascii, repr() of a float and of a str, and str()
// and repr() of decoded values (None, True, [1, 'a'], {'k': 1}). The Jinja,
// YAQL and StackStorm-runner packages all show values the way StackStorm's
// Python would; this is the one place that knows how.
package pyfmt

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONString writes s as json.dumps does with ensure_ascii: every
// character outside printable ASCII as \uXXXX (a surrogate pair above the
// BMP), and text that is not UTF-8 as U+FFFD.
func JSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7e && r < 0x10000:
			fmt.Fprintf(b, `\u%04x`, r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// Float is Python's repr() of a float: the shortest digits that read back
// the same, with ".0" on a whole number, in exponent form below 1e-4 or
// from 1e16 on, and inf, -inf and nan.
func Float(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	_, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp < -4 || exp >= 16 {
		// Go writes at least two exponent digits, as Python does.
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// Quote is Python's repr() of a str: single quotes unless the text holds a
// single quote and no double one; backslash escapes for the quote, the
// backslash, \t \n \r and characters that are not printable. A byte that
// is not UTF-8 shows as \xNN.
func Quote(s string) string {
	var b strings.Builder
	WriteQuote(&b, s)
	return b.String()
}

// WriteQuote writes Quote(s) to b.
func WriteQuote(b *strings.Builder, s string) {
	quote := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(b, `\x%02x`, s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
}

// Leaf lets a caller print some values its own way (its own types, or its
// own spelling of numbers): it writes v and returns true, or returns false
// to leave v to Repr. It is asked first, for every value at every depth.
type Leaf func(b *strings.Builder, v any) bool

// Str is Python's str(): a string as it is, any other value as Repr.
func Str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var b strings.Builder
	Repr(&b, v, nil)
	return b.String()
}

// Repr writes Python's repr() of a decoded value: None, True, False, ints,
// floats, quoted strings, lists and dicts (keys sorted: Go maps keep no
// insertion order). Other values go through leaf, then fmt.
func Repr(b *strings.Builder, v any, leaf Leaf) {
	if leaf != nil && leaf(b, v) {
		return
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if t {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(Float(t))
	case string:
		WriteQuote(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			Repr(b, e, leaf)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(t)) {
			if i > 0 {
				b.WriteString(", ")
			}
			WriteQuote(b, k)
			b.WriteString(": ")
			Repr(b, t[k], leaf)
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}
