package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/yaql"
)

// Orquesta's statement patterns: shortest match, not across lines.
var (
	jinjaExpr  = regexp.MustCompile(`{{.*?}}`)
	jinjaBlock = regexp.MustCompile(`{%.*?%}`)
	yaqlExpr   = regexp.MustCompile(`<%.*?%>`)
)

// ExprLangOf tells which expression language a string uses: YAQL for <% %>, Jinja for {{ }} or
// {% %}, NoExpr for plain text. A string holding both is reported by validation; ExprLangOf
// then answers YAQL.
func ExprLangOf(s string) ExprLang {
	if yaql.HasExpressions(s) {
		return YAQL
	}
	if strings.Contains(s, "{{") || strings.Contains(s, "{%") {
		return Jinja
	}
	return NoExpr
}

// ExprLang tells how the engine renders a string of this workflow: like ExprLangOf, except
// that <% %> is plain text outside Orquesta (attune and action-chain files render Jinja only).
func (wf *Workflow) ExprLang(s string) ExprLang {
	l := ExprLangOf(s)
	if l == YAQL && wf.Language != Orquesta {
		if hasJinja(s) || strings.Contains(s, "{{") || strings.Contains(s, "{%") {
			return Jinja
		}
		return NoExpr
	}
	return l
}

// hasJinja tells whether s holds a complete Jinja statement, as Orquesta's has_expressions.
func hasJinja(s string) bool { return jinjaExpr.MatchString(s) || jinjaBlock.MatchString(s) }

// JinjaValidator, when set, validates the Jinja in a text with a real Jinja parser and returns
// its syntax errors; it runs after checkJinja's structural check (unclosed or unbalanced
// delimiters, brackets, quotes and block tags) passes. It is internal/jinja's parser, the one
// the engine renders with (jinjaSyntax); tests may replace it.
var JinjaValidator = jinjaSyntax

// jinjaEnv is the Jinja engine the parse check uses: the engine's configuration, so a
// template that parses here parses when the workflow runs.
var jinjaEnv = sync.OnceValue(func() *jinja.Env { return jinja.New(jinja.Options{}) })

// jinjaSyntax parses text as internal/jinja does and returns its syntax error, if any. Only
// parse errors count: names, filters and values are checked when the workflow runs.
func jinjaSyntax(text string) []error {
	if _, err := jinjaEnv().Parse(text); err != nil {
		return []error{fmt.Errorf("jinja: %w", err)}
	}
	return nil
}

// checkJinja returns the syntax problems of the Jinja in s.
func checkJinja(s string) []error {
	errs := lightJinja(s)
	if JinjaValidator != nil && len(errs) == 0 {
		errs = JinjaValidator(s)
	}
	return errs
}

var blockEnds = map[string]string{
	"if": "endif", "for": "endfor", "raw": "endraw", "macro": "endmacro", "filter": "endfilter",
	"with": "endwith", "call": "endcall", "block": "endblock", "autoescape": "endautoescape",
}

// lightJinja checks the structure of a Jinja template without a Jinja engine.
func lightJinja(s string) []error {
	var errs []error
	var stack []string
	rest := s
	for {
		i := strings.Index(rest, "{")
		if i < 0 || i+1 >= len(rest) {
			break
		}
		open := rest[i : i+2]
		var closeTok string
		switch open {
		case "{{":
			closeTok = "}}"
		case "{%":
			closeTok = "%}"
		case "{#":
			closeTok = "#}"
		default:
			rest = rest[i+1:]
			continue
		}
		body := rest[i+2:]
		j := closingIndex(body, closeTok)
		if j < 0 {
			errs = append(errs, fmt.Errorf("jinja: %q is not closed by %q", truncate(rest[i:], 60), closeTok))
			break
		}
		inner := strings.TrimSpace(strings.Trim(body[:j], "-+"))
		rest = body[j+2:]
		switch open {
		case "{#":
			continue
		case "{{":
			if inner == "" {
				errs = append(errs, errors.New("jinja: empty expression {{ }}"))
				continue
			}
			if err := balanced(inner); err != nil {
				errs = append(errs, fmt.Errorf("jinja: in {{ %s }}: %v", truncate(inner, 60), err))
			}
		case "{%":
			word, args, _ := strings.Cut(inner, " ")
			word = strings.TrimSpace(word)
			if word == "" {
				errs = append(errs, errors.New("jinja: empty block tag {% %}"))
				continue
			}
			if err := balanced(args); err != nil {
				errs = append(errs, fmt.Errorf("jinja: in {%% %s %%}: %v", truncate(inner, 60), err))
			}
			if word == "raw" {
				k := strings.Index(rest, "endraw")
				if k < 0 {
					errs = append(errs, errors.New("jinja: {% raw %} is not closed by {% endraw %}"))
					return errs
				}
				rest = rest[k:]
				if m := strings.Index(rest, "%}"); m >= 0 {
					rest = rest[m+2:]
				}
				continue
			}
			switch {
			case blockEnds[word] != "" || (word == "set" && !strings.Contains(args, "=")):
				end := blockEnds[word]
				if word == "set" {
					end = "endset"
				}
				stack = append(stack, end)
			case strings.HasPrefix(word, "end"):
				if len(stack) == 0 || stack[len(stack)-1] != word {
					want := "nothing"
					if len(stack) > 0 {
						want = "{% " + stack[len(stack)-1] + " %}"
					}
					errs = append(errs, fmt.Errorf("jinja: unexpected {%% %s %%}, expected %s", word, want))
					if len(stack) > 0 && contains(stack, word) {
						for stack[len(stack)-1] != word {
							stack = stack[:len(stack)-1]
						}
						stack = stack[:len(stack)-1]
					}
					continue
				}
				stack = stack[:len(stack)-1]
			case word == "else" || word == "elif":
				if len(stack) == 0 || (stack[len(stack)-1] != "endif" && stack[len(stack)-1] != "endfor") {
					errs = append(errs, fmt.Errorf("jinja: {%% %s %%} outside of {%% if %%} or {%% for %%}", word))
				}
			}
		}
	}
	for i := len(stack) - 1; i >= 0; i-- {
		errs = append(errs, fmt.Errorf("jinja: missing {%% %s %%}", stack[i]))
	}
	return errs
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// closingIndex finds closeTok in body outside string literals.
func closingIndex(body, closeTok string) int {
	var quote byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case strings.HasPrefix(body[i:], closeTok):
			return i
		}
	}
	// An unterminated quote: fall back to the first closing token.
	return strings.Index(body, closeTok)
}

// balanced checks brackets and quotes of an expression.
func balanced(s string) error {
	var stack []byte
	var quote byte
	pairs := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return fmt.Errorf("unbalanced %q at position %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != 0 {
		return fmt.Errorf("unterminated string")
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// exprError is one bad expression found in a value.
type exprError struct {
	text string
	msg  string
}

// validateText checks the expressions of one string for the file's language.
func validateText(lang Language, s string) []exprError {
	var out []exprError
	hasY, hasJ := yaql.HasExpressions(s), hasJinja(s)
	if lang != Orquesta && hasY && !hasJ {
		// <% %> means nothing to attune and action-chain files: plain text, as StackStorm's
		// Jinja renders it.
		hasY = false
	}
	if hasY && hasJ {
		return []exprError{{s, "expression with multiple types (Jinja and YAQL) is not supported"}}
	}
	if hasY {
		for _, err := range yaql.Validate(s) {
			out = append(out, exprError{s, err.Error()})
		}
		return out
	}
	if hasJ || strings.Contains(s, "{{") || strings.Contains(s, "{%") {
		for _, err := range checkJinja(s) {
			out = append(out, exprError{s, err.Error()})
		}
	}
	return out
}

// walkStrings calls f for every string (keys included) in a raw value.
func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f(k)
			walkStrings(x[k], f)
		}
	}
}

// Orquesta's Jinja ctx() references: ctx().x, ctx(x), ctx('x'), ctx("x").
var jinjaCtxVar = []*regexp.Regexp{
	regexp.MustCompile(`\bctx\(\)\.([a-zA-Z0-9_-]+)\b(\()?`),
	regexp.MustCompile(`\bctx\(([a-zA-Z0-9_-]+)\)`),
	regexp.MustCompile(`\bctx\('([a-zA-Z0-9_-]+)'\)`),
	regexp.MustCompile(`\bctx\("([a-zA-Z0-9_-]+)"\)`),
}

// ctxVars lists the workflow variables an Orquesta string reads through ctx(), sorted.
func ctxVars(s string) []string {
	if yaql.HasExpressions(s) {
		return yaql.CtxVars(s)
	}
	seen := map[string]bool{}
	for _, e := range jinjaExpr.FindAllString(s, -1) {
		for _, re := range jinjaCtxVar {
			for _, m := range re.FindAllStringSubmatch(e, -1) {
				if len(m) > 2 && m[2] != "" { // ctx().name( is a method call, not a variable
					continue
				}
				seen[m[1]] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Orquesta's inline parameters: key=value pairs in "core.echo message=hi count=2" and in
// publish: foo="bar" bar=<% ctx().x %>.
var inlineParam = regexp.MustCompile(`([\w]+)=(` + strings.Join([]string{
	`\[.*\]\s*`, `"[^"]*"\s*`, `'[^']*'\s*`, `[-]?\d*\.\d+`, `[-]?\d+`, `(?i:true)`, `(?i:false)`, `null`,
	`{{.*?}}`, `<%.*?%>`,
}, "|") + `)`)

var (
	quotedValue = regexp.MustCompile(`"[^"]*"\s*|'[^']*'\s*`)
)

// parseInlineParams parses Orquesta's key=value text, in order.
func parseInlineParams(s string) []Assign {
	var out []Assign
	for _, m := range inlineParam.FindAllStringSubmatch(s, -1) {
		k, v := m[1], strings.TrimSpace(m[2])
		quoted := quotedValue.MatchString(v)
		v = strings.TrimPrefix(v, `"`)
		v = strings.TrimSuffix(v, `"`)
		v = strings.TrimPrefix(v, `'`)
		v = strings.TrimSuffix(v, `'`)
		var val any = v
		quotesInString := quoted && !(v != "" && v[0] == '{' && v[len(v)-1] == '}')
		if !quotesInString {
			src := v
			if l := strings.ToLower(v); l == "true" || l == "false" {
				src = l
			}
			var j any
			if err := json.Unmarshal([]byte(src), &j); err == nil {
				val = normalizeJSON(j)
			}
		}
		out = append(out, Assign{Name: k, Value: val})
	}
	return out
}

// normalizeJSON turns json.Unmarshal's float64 integers into int64.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int64(x)) && x < 1e18 && x > -1e18 {
			return int64(x)
		}
		return x
	case []any:
		for i := range x {
			x[i] = normalizeJSON(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSON(x[k])
		}
		return x
	}
	return v
}
