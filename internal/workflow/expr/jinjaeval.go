package expr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/pyfmt"
)

// Orquesta's Jinja patterns: shortest match, not across lines.
var (
	jinjaExprRe  = regexp.MustCompile(`{{.*?}}`)
	jinjaBlockRe = regexp.MustCompile(`{%.*?%}`)
	jinjaRawRe   = regexp.MustCompile(`{% raw %}.*?{% endraw %}`)
)

// stateKey names the render's *state among the Jinja variables, for the functions.
const stateKey = "__attune_expr_state__"

// jinjaEvaluate is Orquesta's JinjaEvaluator.evaluate: raw blocks are set aside, the
// expressions are evaluated (a text that is one {{ }} yields its value, with its type), a text
// with {% %} blocks is rendered whole, string results that hold expressions are expanded
// again, and what is left unresolved is an error.
func (st *state) jinjaEvaluate(text string) (any, error) {
	raws := jinjaRawRe.FindAllString(text, -1)
	for i, r := range raws {
		text = strings.ReplaceAll(text, r, fmt.Sprintf("{%d}", i))
	}
	out, err := st.jinjaExpand(text, 0)
	if err != nil {
		return nil, err
	}
	s, isString := out.(string)
	if !isString {
		return out, nil
	}
	if left := jinjaExprRe.FindAllString(s, -1); len(left) > 0 {
		names := make([]string, len(left))
		for i, l := range left {
			names[i] = stripDelims(l, "{}")
		}
		return nil, &Error{Expr: text, Err: fmt.Errorf("There are unresolved variables: %s", strings.Join(names, ", "))}
	}
	if len(raws) > 0 {
		for i, r := range raws {
			s = strings.ReplaceAll(s, fmt.Sprintf("{%d}", i), r)
		}
		return st.jinjaText(s)
	}
	return s, nil
}

// jinjaExpand is Orquesta's _evaluate_and_expand.
func (st *state) jinjaExpand(text string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &Error{Expr: text, Err: fmt.Errorf("expressions expand into expressions more than %d levels deep", maxDepth)}
	}
	exprs, block := st.scan(text)
	if block {
		out, err := st.jinjaText(text)
		if err != nil {
			return nil, err
		}
		if out == text {
			return out, nil
		}
		return st.jinjaExpand(out, depth+1)
	}
	var output any = text
	for _, ex := range exprs {
		v, err := st.jinjaValue(ex)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			if v, err = st.jinjaExpand(s, depth+1); err != nil {
				return nil, err
			}
		}
		cur, _ := output.(string)
		if len(exprs) > 1 || len(cur) > len(ex) {
			text := strings.ReplaceAll(cur, ex, pyfmt.Str(v))
			if len(text) > maxText {
				return nil, &Error{Expr: ex, Err: fmt.Errorf("the rendered text is longer than %d bytes", maxText)}
			}
			output = text
		} else {
			output = v
		}
	}
	return output, nil
}

// jinjaValue evaluates one {{ }} to its value.
func (st *state) jinjaValue(ex string) (any, error) {
	src := stripDelims(ex, "{}")
	key := "e" + src
	var tpl *jinja.Template
	if c, ok := st.ev.cache.get(key); ok {
		tpl = c.(*jinja.Template)
	} else {
		t, err := st.ev.jinja.Parse("{{ " + src + " }}")
		if err != nil {
			return nil, &Error{Expr: ex, Err: err}
		}
		if !t.IsExpression() {
			return nil, &Error{Expr: ex, Err: errors.New("not a single expression")}
		}
		tpl = t
		st.ev.cache.put(key, tpl)
	}
	v, err := tpl.EvalVars(st.jinjaVars())
	if err != nil {
		return nil, exprError(ex, err)
	}
	return result(v), nil
}

// jinjaText renders a whole template to text.
func (st *state) jinjaText(text string) (string, error) {
	key := "t" + text
	var tpl *jinja.Template
	if c, ok := st.ev.cache.get(key); ok {
		tpl = c.(*jinja.Template)
	} else {
		t, err := st.ev.jinja.Parse(text)
		if err != nil {
			return "", &Error{Expr: text, Err: err}
		}
		tpl = t
		st.ev.cache.put(key, tpl)
	}
	out, err := tpl.RenderVars(st.jinjaVars())
	if err != nil {
		return "", exprError(text, err)
	}
	return out, nil
}

// scanned is what Orquesta's patterns find in a text.
type scanned struct {
	exprs []string
	block bool
}

// scan finds the {{ }} expressions of text and whether it holds {% %} blocks, cached.
func (st *state) scan(text string) ([]string, bool) {
	key := "s" + text
	if c, ok := st.ev.cache.get(key); ok {
		s := c.(scanned)
		return s.exprs, s.block
	}
	s := scanned{exprs: jinjaExprRe.FindAllString(text, -1), block: jinjaBlockRe.MatchString(text)}
	st.ev.cache.put(key, s)
	return s.exprs, s.block
}
