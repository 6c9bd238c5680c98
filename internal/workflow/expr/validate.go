package expr

import (
	"fmt"

	"github.com/attune-io/attune/internal/workflow/spec"
	"github.com/attune-io/attune/internal/yaql"
)

// Validate returns the syntax errors of the expressions in text, as Render would meet them:
// each <% %> (Orquesta only), the whole Jinja template (raw blocks aside) and each {{ }}
// expression, as Orquesta's validate does. It evaluates nothing. It suits
// spec.JinjaValidator for Jinja texts.
func (e *Evaluator) Validate(text string) []error {
	var errs []error
	if e.lang == spec.Orquesta {
		errs = append(errs, yaql.Validate(text)...)
		if spec.ExprLangOf(text) == spec.YAQL {
			return errs
		}
	}
	if !jinjaExprRe.MatchString(text) && !jinjaBlockRe.MatchString(text) {
		return errs
	}
	whole := jinjaRawRe.ReplaceAllString(text, "")
	if _, err := e.jinja.Parse(whole); err != nil {
		errs = append(errs, &Error{Expr: text, Err: err})
		return errs
	}
	for _, ex := range jinjaExprRe.FindAllString(whole, -1) {
		t, err := e.jinja.Parse("{{ " + stripDelims(ex, "{}") + " }}")
		if err == nil && !t.IsExpression() {
			err = fmt.Errorf("not a single expression")
		}
		if err != nil {
			errs = append(errs, &Error{Expr: ex, Err: err})
		}
	}
	return errs
}
