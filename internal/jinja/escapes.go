package jinja

import "strings"

// pyEscapes rewrites the string literals inside a template's tags so that
// gonja reads their backslashes as Python's Jinja does: an escape Python does
// not know (\w, \d, \. in a regular expression) keeps its backslash, where
// gonja's Go unquoting would refuse the template. Text outside tags, raw
// blocks and comments are left as they are.
func pyEscapes(src string) string {
	if !strings.Contains(src, `\`) {
		return src
	}
	var b strings.Builder
	b.Grow(len(src) + 8)
	i := 0
	for i < len(src) {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			b.WriteString(src[i:])
			break
		}
		j += i
		b.WriteString(src[i:j])
		var end string
		switch src[j+1] {
		case '{':
			end = "}}"
		case '%':
			end = "%}"
		case '#':
			k := strings.Index(src[j:], "#}")
			if k < 0 {
				b.WriteString(src[j:])
				return b.String()
			}
			b.WriteString(src[j : j+k+2])
			i = j + k + 2
			continue
		default:
			b.WriteByte('{')
			i = j + 1
			continue
		}
		if end == "%}" && isRawTag(src[j:]) {
			k := strings.Index(src[j:], "endraw")
			if k < 0 {
				b.WriteString(src[j:])
				return b.String()
			}
			b.WriteString(src[j : j+k])
			i = j + k
			continue
		}
		// Inside a tag: copy up to its end, fixing string literals.
		k := j + 2
		b.WriteString(src[j:k])
		for k < len(src) && !strings.HasPrefix(src[k:], end) {
			c := src[k]
			if c != '\'' && c != '"' {
				b.WriteByte(c)
				k++
				continue
			}
			b.WriteByte(c)
			k++
			for k < len(src) && src[k] != c {
				if src[k] == '\\' && k+1 < len(src) {
					if !strings.ContainsRune(`\'"abfnrtvxuU01234567`+"\n", rune(src[k+1])) {
						b.WriteByte('\\')
					}
					b.WriteString(src[k : k+2])
					k += 2
					continue
				}
				b.WriteByte(src[k])
				k++
			}
			if k < len(src) {
				b.WriteByte(src[k])
				k++
			}
		}
		i = k
	}
	return b.String()
}

// isRawTag reports whether s starts with a {% raw %} tag.
func isRawTag(s string) bool {
	s = strings.TrimLeft(s[2:], "-+ \t\r\n")
	return strings.HasPrefix(s, "raw") && (len(s) == 3 || !isNameByte(s[3]))
}
