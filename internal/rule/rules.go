package rule

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/pack"
	entrule "github.com/attune-io/attune/ent/rule"
	"github.com/attune-io/attune/ent/schema"
	"github.com/attune-io/attune/ent/trigger"
	"github.com/attune-io/attune/internal/apperr"
	"github.com/attune-io/attune/internal/execution"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/param"
)

// refRE is the shape of a rule ref: "<namespace>.<name>", the same as every
// component ref. For a rule in a pack the namespace is the pack's ref; an
// API rule without a pack may use any namespace not taken by a pack.
var refRE = regexp.MustCompile(schema.ComponentRefPattern)

// Input is a rule as the API creates it.
type Input struct {
	Ref         string
	Pack        string // optional: the pack the rule belongs to
	Label       string
	Description string
	Trigger     string
	Action      string
	// Criteria, ActionParams and TriggerParams are validated and compiled
	// before anything is stored.
	Criteria      map[string]any
	ActionParams  map[string]any
	TriggerParams map[string]any
	Enabled       *bool // default true
}

// Patch changes a rule; nil fields stay as they are.
type Patch struct {
	Label         *string
	Description   *string
	Trigger       *string
	Action        *string
	Criteria      map[string]any
	ActionParams  map[string]any
	TriggerParams map[string]any
	Enabled       *bool
}

// CreateRule validates and stores a rule. Returns BAD_USER_INPUT listing
// every problem under details "fields" (ref shape, unknown pack, trigger or
// action, invalid criteria, templates or trigger parameters) and CONFLICT
// when the ref is taken.
func (e *Engine) CreateRule(ctx context.Context, in Input) (*ent.Rule, error) {
	var problems []Problem
	if !refRE.MatchString(in.Ref) {
		problems = append(problems, Problem{Key: "ref", Message: "must look like <namespace>.<name> (lower case, digits, _ and -)"})
	}
	var packID *int
	packRef := ""
	ns, _, _ := strings.Cut(in.Ref, ".")
	if in.Pack != "" {
		p, err := e.db.Ent.Pack.Query().Where(pack.Ref(in.Pack)).Only(ctx)
		switch {
		case ent.IsNotFound(err):
			problems = append(problems, Problem{Key: "pack", Message: fmt.Sprintf("pack %s not found", in.Pack)})
		case err != nil:
			return nil, fmt.Errorf("loading pack %s: %w", in.Pack, err)
		default:
			packID, packRef = &p.ID, p.Ref
		}
		if ns != in.Pack {
			problems = append(problems, Problem{Key: "ref", Message: fmt.Sprintf("a rule of pack %s must be named %s.<name>", in.Pack, in.Pack)})
		}
	} else if taken, err := e.db.Ent.Pack.Query().Where(pack.Ref(ns)).Exist(ctx); err != nil {
		return nil, fmt.Errorf("checking namespace %s: %w", ns, err)
	} else if taken {
		problems = append(problems, Problem{Key: "ref", Message: fmt.Sprintf("namespace %s is a pack; pass pack: %q or use another namespace", ns, ns)})
	}
	tr, act, more, err := e.checkRule(ctx, in.Trigger, in.Action, in.Criteria, in.ActionParams, in.TriggerParams)
	if err != nil {
		return nil, err
	}
	if problems = append(problems, more...); len(problems) > 0 {
		return nil, invalid(problems)
	}
	c := e.db.Ent.Rule.Create().SetRef(in.Ref).SetPackRef(packRef).SetNillablePackID(packID).
		SetLabel(in.Label).SetDescription(in.Description).
		SetTriggerID(tr.ID).SetTriggerRef(tr.Ref).SetActionID(act.ID).SetActionRef(act.Ref).
		SetCriteria(orEmpty(in.Criteria)).SetActionParams(orEmpty(in.ActionParams)).
		SetTriggerParams(orEmpty(in.TriggerParams)).SetNillableEnabled(in.Enabled)
	r, err := c.Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, apperr.Errorf(apperr.Conflict, "rule %s already exists", in.Ref)
	}
	if err != nil {
		return nil, fmt.Errorf("creating rule %s: %w", in.Ref, err)
	}
	return r, nil
}

// UpdateRule applies p to the rule, validating the result as CreateRule
// does. Returns NOT_FOUND for an unknown rule and BAD_USER_INPUT listing
// every problem. A rule of a pack is overwritten by the pack's next upgrade.
func (e *Engine) UpdateRule(ctx context.Context, ref string, p Patch) (*ent.Rule, error) {
	r, err := e.getRule(ctx, ref)
	if err != nil {
		return nil, err
	}
	trigRef, actRef := pick(p.Trigger, r.TriggerRef), pick(p.Action, r.ActionRef)
	criteria, actionParams, triggerParams := pickMap(p.Criteria, r.Criteria), pickMap(p.ActionParams, r.ActionParams), pickMap(p.TriggerParams, r.TriggerParams)
	tr, act, problems, err := e.checkRule(ctx, trigRef, actRef, criteria, actionParams, triggerParams)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, invalid(problems)
	}
	return r.Update().SetNillableLabel(p.Label).SetNillableDescription(p.Description).
		SetTriggerID(tr.ID).SetTriggerRef(tr.Ref).SetActionID(act.ID).SetActionRef(act.Ref).
		SetCriteria(criteria).SetActionParams(actionParams).SetTriggerParams(triggerParams).
		SetNillableEnabled(p.Enabled).Save(ctx)
}

// SetRuleEnabled enables or disables a rule: a disabled rule is not
// evaluated, and timers and sensors stop serving it. Returns NOT_FOUND for
// an unknown rule.
func (e *Engine) SetRuleEnabled(ctx context.Context, ref string, enabled bool) (*ent.Rule, error) {
	r, err := e.getRule(ctx, ref)
	if err != nil {
		return nil, err
	}
	return r.Update().SetEnabled(enabled).Save(ctx)
}

func (e *Engine) getRule(ctx context.Context, ref string) (*ent.Rule, error) {
	r, err := e.db.Ent.Rule.Query().Where(entrule.Ref(ref)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, apperr.Errorf(apperr.NotFound, "rule %q not found", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("loading rule %s: %w", ref, err)
	}
	return r, nil
}

// checkRule resolves the trigger and action and lists every problem of
// the rule's criteria, templates and trigger parameters.
func (e *Engine) checkRule(ctx context.Context, trigRef, actRef string, criteria, actionParams, triggerParams map[string]any) (*ent.Trigger, *ent.Action, []Problem, error) {
	var problems []Problem
	tr, err := e.db.Ent.Trigger.Query().Where(trigger.Ref(trigRef)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		problems = append(problems, Problem{Key: "trigger", Message: fmt.Sprintf("trigger %s not found", trigRef)})
	case err != nil:
		return nil, nil, nil, fmt.Errorf("loading trigger %s: %w", trigRef, err)
	default:
		problems = append(problems, triggerParamProblems(tr, triggerParams)...)
		if e.opts.CheckTriggerParams != nil {
			if err := e.opts.CheckTriggerParams(trigRef, triggerParams); err != nil {
				problems = append(problems, Problem{Key: "triggerParams", Message: err.Error()})
			}
		}
	}
	act, err := e.db.Ent.Action.Query().Where(action.Ref(actRef)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		problems = append(problems, Problem{Key: "action", Message: fmt.Sprintf("action %s not found", actRef)})
	case err != nil:
		return nil, nil, nil, fmt.Errorf("loading action %s: %w", actRef, err)
	}
	problems = append(problems, CompileProblems(criteria, actionParams, "actionParams", execution.RendersJinja(act))...)
	return tr, act, problems, nil
}

// CompileProblems lists every problem of a rule's criteria and
// action-parameter templates, keyed "criteria.<key>" and
// "<paramsField>.<param>", so a rule (from the API or a pack's YAML) is
// refused with all its mistakes at once.
//
// With jinja (the rule's action runs with a StackStorm runner, or the rule
// is written in StackStorm's form), a parameter that attune's engine
// refuses is accepted when it parses as Jinja.
func CompileProblems(criteria, actionParams map[string]any, paramsField string, jinja bool) []Problem {
	var out []Problem
	if _, err := CompileCriteria(criteria); err != nil {
		var ce *CriteriaError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				out = append(out, Problem{Key: "criteria." + p.Key, Message: p.Message})
			}
		}
	}
	if _, err := CompileTemplates(actionParams); err != nil {
		var te *TemplateSyntaxError
		if errors.As(err, &te) {
			for _, p := range te.Problems {
				top, _, _ := strings.Cut(p.Key, ".")
				if jinja && jinjaParses(actionParams[top]) {
					// A StackStorm rule's Jinja: rendered with Jinja when
					// its action runs with a StackStorm runner.
					continue
				}
				out = append(out, Problem{Key: paramsField + "." + p.Key, Message: p.Message})
			}
		}
	}
	return out
}

// jinjaSyntax parses StackStorm rules' templates.
var jinjaSyntax = jinja.New(jinja.Options{})

// jinjaParses reports whether every template inside v parses as Jinja.
func jinjaParses(v any) bool {
	switch t := v.(type) {
	case string:
		if !jinja.IsTemplate(t) {
			return true
		}
		_, err := jinjaSyntax.Parse(t)
		return err == nil
	case map[string]any:
		for _, e := range t {
			if !jinjaParses(e) {
				return false
			}
		}
	case []any:
		for _, e := range t {
			if !jinjaParses(e) {
				return false
			}
		}
	}
	return true
}

// triggerParamProblems validates a rule's trigger parameters against the
// trigger's parameter schema (a timer's interval, say).
func triggerParamProblems(tr *ent.Trigger, params map[string]any) []Problem {
	schema, err := param.ParseSchema(tr.ParametersSchema)
	if err != nil {
		return nil
	}
	_, err = schema.Validate(params)
	var pe *param.Error
	if !errors.As(err, &pe) {
		return nil
	}
	out := make([]Problem, len(pe.Fields))
	for i, f := range pe.Fields {
		out[i] = Problem{Key: "triggerParams." + f.Field, Message: f.Message}
	}
	return out
}

// invalid is the BAD_USER_INPUT error listing problems under "fields".
func invalid(problems []Problem) error {
	fields := make([]map[string]string, len(problems))
	for i, p := range problems {
		fields[i] = map[string]string{"field": p.Key, "message": p.Message}
	}
	return apperr.Errorf(apperr.BadUserInput, "%s", formatProblems("invalid rule", problems)).
		WithDetails("fields", fields)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func pick(p *string, current string) string {
	if p != nil {
		return *p
	}
	return current
}

func pickMap(m, current map[string]any) map[string]any {
	if m != nil {
		return m
	}
	return orEmpty(current)
}
