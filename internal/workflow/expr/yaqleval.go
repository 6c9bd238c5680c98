package expr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/attune-io/attune/internal/pyfmt"
	"github.com/attune-io/attune/internal/yaql"
)

// yaqlExprRe is Orquesta's YAQL pattern: shortest match, not across lines.
var yaqlExprRe = regexp.MustCompile(`<%.*?%>`)

// yaqlRoot is the context every YAQL render's own derives from: the standard library.
var yaqlRoot = yaql.NewContext()

// yaqlRender is Orquesta's YAQLEvaluator.evaluate: a text that is one <% %> yields its value,
// with its type; otherwise each expression is replaced by Python's str() of its value; a
// string value that holds expressions is evaluated again.
func (st *state) yaqlRender(text string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, &Error{Expr: text, Err: fmt.Errorf("expressions expand into expressions more than %d levels deep", maxDepth)}
	}
	exprs := st.scanYAQL(text)
	var output any = text
	for _, ex := range exprs {
		v, err := st.yaqlValue(ex)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			if v, err = st.yaqlRender(s, depth+1); err != nil {
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

func (st *state) yaqlValue(ex string) (any, error) {
	src := stripDelims(ex, "<%>")
	key := "y" + src
	var parsed *yaql.Expression
	if c, ok := st.ev.cache.get(key); ok {
		parsed = c.(*yaql.Expression)
	} else {
		p, err := yaql.Parse(src)
		if err != nil {
			return nil, &Error{Expr: ex, Err: yaqlError{err}}
		}
		parsed = p
		st.ev.cache.put(key, p)
	}
	v, err := parsed.Evaluate(st.yaqlContext())
	if err != nil {
		return nil, &Error{Expr: ex, Err: yaqlError{err}}
	}
	return v, nil
}

// yaqlContext is the render's YAQL context, with Orquesta's and st2's functions.
func (st *state) yaqlContext() *yaql.Context {
	if c, ok := st.ychild.(*yaql.Context); ok {
		return c
	}
	c := yaqlRoot.Child()
	arg0 := func(call *yaql.Call) (any, error) {
		if call.Len() == 0 {
			return nil, nil
		}
		return call.Arg(0)
	}
	c.RegisterTrusted("ctx", func(call *yaql.Call) (any, error) {
		k, err := arg0(call)
		if err != nil {
			return nil, err
		}
		return st.ctxVar(k)
	})
	c.RegisterTrusted("result", func(*yaql.Call) (any, error) {
		t, err := st.current()
		if err != nil {
			return nil, err
		}
		return normal(t.Result), nil
	})
	status := func(want ...string) yaql.Func {
		return func(*yaql.Call) (any, error) { return st.statusIs(want...) }
	}
	c.RegisterTrusted("succeeded", status(StatusSucceeded))
	c.RegisterTrusted("failed", status(failedStatuses(st.ev.lang)...))
	c.RegisterTrusted("completed", status(completedStatuses...))
	c.RegisterTrusted("task_status", func(call *yaql.Call) (any, error) {
		k, err := arg0(call)
		if err != nil {
			return nil, err
		}
		return st.taskStatus(k)
	})
	c.RegisterTrusted("task", func(call *yaql.Call) (any, error) {
		k, err := arg0(call)
		if err != nil {
			return nil, err
		}
		return st.task(k)
	})
	c.RegisterTrusted("item", func(call *yaql.Call) (any, error) {
		k, err := arg0(call)
		if err != nil {
			return nil, err
		}
		return st.item(k)
	})
	c.RegisterTrusted("st2kv", func(call *yaql.Call) (any, error) {
		k, err := arg0(call)
		if err != nil {
			return nil, err
		}
		d, _, err := call.Named("decrypt")
		if err != nil {
			return nil, err
		}
		def, has, err := call.Named("default")
		if err != nil {
			return nil, err
		}
		return st.st2kv(k, d, def, has)
	})
	st.ychild = c
	return c
}

// yaqlError drops what Error repeats (the expression) from a YAQL error.
type yaqlError struct{ err error }

func (e yaqlError) Error() string {
	var ye *yaql.Error
	if errors.As(e.err, &ye) {
		return fmt.Sprintf("%s (at position %d)", ye.Msg, ye.Pos)
	}
	return e.err.Error()
}

func (e yaqlError) Unwrap() error { return e.err }

// scanYAQL finds the <% %> expressions of text, cached.
func (st *state) scanYAQL(text string) []string {
	key := "S" + text
	if c, ok := st.ev.cache.get(key); ok {
		return c.([]string)
	}
	exprs := yaqlExprRe.FindAllString(text, -1)
	st.ev.cache.put(key, exprs)
	return exprs
}
