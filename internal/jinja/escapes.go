package jinja

import "strings"

// pyEscapes rewrites the string literals in src's expressions and statements so gonja reads
// them as Jinja does. Jinja decodes a literal with Python's unicode-escape, which keeps an
// unknown escape as written ("\w" stays backslash, w); gonja decodes it as a Go literal,
// where an unknown escape is a syntax error. StackStorm's regex filters are written that way
// ({{ s | regex_match("\w+") }}), so each unknown escape's backslash is doubled here, which
// gonja reads as one backslash. Known escapes (\n, \t, \\, \", \', \x41, \u00e9, …) and text
// outside {{ }} and {% %} (comments and raw blocks too) are left alone.
func pyEscapes(src string) string {
	if !strings.Contains(src, `\`) {
		return src
	}
	var b strings.Builder
	b.Grow(len(src) + 8)
	i := 0
	for i < len(src) {
		open := strings.Index(src[i:], "{")
		if open < 0 || i+open+1 >= len(src) {
			break
		}
		open += i
		var closeTok string
		switch src[open+1] {
		case '{':
			closeTok = "}}"
		case '%':
			closeTok = "%}"
		case '#':
			closeTok = "#}"
		default:
			b.WriteString(src[i : open+1])
			i = open + 1
			continue
		}
		b.WriteString(src[i : open+2])
		i = open + 2
		if closeTok == "#}" {
			end := strings.Index(src[i:], closeTok)
			if end < 0 {
				break
			}
			b.WriteString(src[i : i+end+2])
			i += end + 2
			continue
		}
		start := i
		i = rewriteLiterals(&b, src, i, closeTok)
		if closeTok == "%}" && isRawTag(src[start:i]) {
			// Everything up to {% endraw %} is text.
			end := strings.Index(src[i:], "endraw")
			if end < 0 {
				break
			}
			b.WriteString(src[i : i+end])
			i += end
		}
	}
	b.WriteString(src[i:])
	return b.String()
}

// isRawTag tells whether a {% … %} tag (from after "{%" to after "%}") is {% raw %}.
func isRawTag(tag string) bool {
	inner := strings.TrimSuffix(tag, "%}")
	return strings.TrimSpace(strings.Trim(inner, "-+ \t\r\n")) == "raw"
}

// rewriteLiterals copies src from i up to and including closeTok (outside string literals),
// doubling the backslash of unknown escapes inside the literals; it returns where it stopped.
func rewriteLiterals(b *strings.Builder, src string, i int, closeTok string) int {
	var quote byte
	for i < len(src) {
		c := src[i]
		switch {
		case quote != 0 && c == '\\' && i+1 < len(src):
			if knownEscape(src[i+1]) {
				b.WriteString(src[i : i+2])
			} else {
				b.WriteString(`\\`)
				b.WriteByte(src[i+1])
			}
			i += 2
			continue
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && strings.HasPrefix(src[i:], closeTok):
			b.WriteString(closeTok)
			return i + len(closeTok)
		}
		b.WriteByte(c)
		i++
	}
	return i
}

// knownEscape tells whether \c is an escape both Python's unicode-escape and Go decode.
func knownEscape(c byte) bool {
	return strings.IndexByte(`\'"abfnrtvxuU01234567`, c) >= 0
}
