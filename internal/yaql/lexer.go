package yaql

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind int

const (
	tEOF tokKind = iota
	tNumber
	tString
	tIdent  // keyword string: a bare name such as foo
	tFunc   // a name immediately followed by "(": foo(
	tDollar // $ or $name
	tTrue
	tFalse
	tNull
	tOp // operators and punctuation, text in tok.text
)

type token struct {
	kind tokKind
	text string // operator text, identifier, function name, variable name
	val  any    // literal value for numbers and strings
	pos  int    // byte offset in the expression
}

// operators, longest first so that "!=" wins over "!" and "=>" over "=".
var opTexts = []string{"?.", "=~", "!~", ">=", "<=", "!=", "->", "=>",
	".", "[", "]", "{", "}", "(", ")", ",", "+", "-", "*", "/", ">", "<", "="}

// wordOps are operators spelled as words.
var wordOps = map[string]bool{"mod": true, "in": true, "not": true, "and": true, "or": true}

func isWordStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isWordChar(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// lex splits an expression into tokens.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		switch {
		case r == ' ' || r == '\t' || r == '\r' || r == '\n':
			i += size
		case r == '$':
			j := i + 1
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isWordChar(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{kind: tDollar, text: src[i+1 : j], pos: i})
			i = j
		case r >= '0' && r <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			isFloat := false
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				isFloat = true
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) {
				if r2, _ := utf8.DecodeRuneInString(src[j:]); isWordChar(r2) {
					return nil, &Error{Expr: src, Pos: i, Msg: "malformed number"}
				}
			}
			text := src[i:j]
			var v any
			if isFloat {
				f, err := strconv.ParseFloat(text, 64)
				if err != nil {
					return nil, &Error{Expr: src, Pos: i, Msg: "malformed number " + text}
				}
				v = f
			} else {
				n, err := strconv.ParseInt(text, 10, 64)
				if err != nil {
					f, ferr := strconv.ParseFloat(text, 64)
					if ferr != nil {
						return nil, &Error{Expr: src, Pos: i, Msg: "malformed number " + text}
					}
					v = f
				} else {
					v = n
				}
			}
			toks = append(toks, token{kind: tNumber, text: text, val: v, pos: i})
			i = j
		case isWordStart(r):
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isWordChar(r2) {
					break
				}
				j += s2
			}
			word := src[i:j]
			if j < len(src) && src[j] == '(' {
				toks = append(toks, token{kind: tFunc, text: word, pos: i})
				i = j + 1
				continue
			}
			if strings.HasPrefix(word, "__") {
				return nil, &Error{Expr: src, Pos: i, Msg: "names may not start with __: " + word}
			}
			switch {
			case word == "true":
				toks = append(toks, token{kind: tTrue, text: word, val: true, pos: i})
			case word == "false":
				toks = append(toks, token{kind: tFalse, text: word, val: false, pos: i})
			case word == "null":
				toks = append(toks, token{kind: tNull, text: word, pos: i})
			case wordOps[word]:
				toks = append(toks, token{kind: tOp, text: word, pos: i})
			default:
				toks = append(toks, token{kind: tIdent, text: word, pos: i})
			}
			i = j
		case r == '\'' || r == '"' || r == '`':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, val: s, pos: i})
			i += n
		default:
			matched := false
			for _, op := range opTexts {
				if strings.HasPrefix(src[i:], op) {
					toks = append(toks, token{kind: tOp, text: op, pos: i})
					i += len(op)
					matched = true
					break
				}
			}
			if !matched {
				return nil, &Error{Expr: src, Pos: i, Msg: "unexpected character " + strconv.QuoteRune(r)}
			}
		}
	}
	toks = append(toks, token{kind: tEOF, pos: len(src)})
	return toks, nil
}

// lexString reads a quoted string starting at src[start]; it returns the
// decoded value and the number of bytes consumed. Single and double quotes
// decode Python-style escapes; back-quotes are verbatim except for \`.
func lexString(src string, start int) (string, int, error) {
	quote := src[start]
	var b strings.Builder
	i := start + 1
	for i < len(src) {
		c := src[i]
		if c == quote {
			return b.String(), i + 1 - start, nil
		}
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(src) {
			break
		}
		if quote == '`' {
			if src[i+1] == '`' {
				b.WriteByte('`')
			} else {
				b.WriteByte('\\')
				b.WriteByte(src[i+1])
			}
			i += 2
			continue
		}
		n, err := decodeEscape(src, i, &b)
		if err != nil {
			return "", 0, err
		}
		i += n
	}
	return "", 0, &Error{Expr: src, Pos: start, Msg: "unterminated string"}
}

// decodeEscape decodes the escape sequence at src[i] (a backslash) into b and
// returns its length. Unknown escapes are kept as written, as Python does.
func decodeEscape(src string, i int, b *strings.Builder) (int, error) {
	e := src[i+1]
	simple := map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'a': "\a", 'b': "\b",
		'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}
	if s, ok := simple[e]; ok {
		b.WriteString(s)
		return 2, nil
	}
	hex := func(n int) (int, error) {
		if i+2+n > len(src) {
			return 0, &Error{Expr: src, Pos: i, Msg: "truncated escape sequence"}
		}
		v, err := strconv.ParseUint(src[i+2:i+2+n], 16, 32)
		if err != nil || v > unicode.MaxRune {
			return 0, &Error{Expr: src, Pos: i, Msg: "malformed escape sequence"}
		}
		b.WriteRune(rune(v))
		return 2 + n, nil
	}
	switch e {
	case 'x':
		return hex(2)
	case 'u':
		return hex(4)
	case 'U':
		return hex(8)
	}
	if e >= '0' && e <= '7' {
		j := i + 1
		v := 0
		for j < len(src) && j < i+4 && src[j] >= '0' && src[j] <= '7' {
			v = v*8 + int(src[j]-'0')
			j++
		}
		b.WriteRune(rune(v))
		return j - i, nil
	}
	b.WriteByte('\\')
	b.WriteByte(e)
	return 2, nil
}
