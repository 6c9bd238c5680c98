package execution

import (
	"context"
	"errors"
	"fmt"

	"github.com/attune-io/attune/ent"
	"github.com/attune-io/attune/ent/action"
	"github.com/attune-io/attune/ent/enforcement"
	"github.com/attune-io/attune/ent/execution"
	"github.com/attune-io/attune/internal/jinja"
	"github.com/attune-io/attune/internal/param"
	"github.com/attune-io/attune/internal/runner"
)

// ParamsFunc renders the parameters of an action that runs with one of
// StackStorm's runners, just before its run (see Worker.render); act has
// its pack edge loaded; user is who started the execution, "" when
// unknown; extra are more context roots (a rule's trigger and rule).
// keystore.Service.RenderParams implements it.
type ParamsFunc func(ctx context.Context, act *ent.Action, params map[string]any, user string, extra map[string]any) (jinja.Rendered, error)

// attuneRunners are attune's own runner names: their parameters are
// passed as given. Every other runner name is one of StackStorm's, whose
// parameters are Jinja templates.
var attuneRunners = map[string]bool{"": true, "shell": true, "python": true, "node": true, "native": true, "local": true}

// RendersJinja reports whether act's parameters (and the action
// parameters of the rules that run it) are Jinja templates, rendered as
// StackStorm renders them before the run: act runs with one of
// StackStorm's runners.
func RendersJinja(act *ent.Action) bool { return act != nil && !attuneRunners[act.RunnerName] }

// templateNames lists the parameters in params whose value holds a
// template (anywhere inside a list or object).
func templateNames(params map[string]any) []string {
	var out []string
	for k, v := range params {
		if holdsTemplate(v) {
			out = append(out, k)
		}
	}
	return out
}

func holdsTemplate(v any) bool {
	switch t := v.(type) {
	case string:
		return jinja.IsTemplate(t)
	case map[string]any:
		for _, e := range t {
			if holdsTemplate(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if holdsTemplate(e) {
				return true
			}
		}
	}
	return false
}

// render renders the parameters of a claimed execution whose action runs
// with a StackStorm runner and whose parameters hold templates, before the
// run: the runner gets the rendered values, the execution row shows them
// (secrets, and values built from secrets, redacted), and a template that
// fails ends the run in preparation. It returns the plaintexts decrypted
// on the way, for the output's redaction.
func (w *Worker) render(ctx context.Context, c *claimed) ([]string, error) {
	e := c.exec
	if w.svc.opts.Params == nil || c.badParams != nil || c.action == nil {
		return nil, nil
	}
	params := make(map[string]any, len(e.Parameters)+len(c.secrets))
	for k, v := range e.Parameters {
		params[k] = v
	}
	for k, v := range c.secrets {
		params[k] = v
	}
	if len(templateNames(params)) == 0 {
		return nil, nil
	}
	act, err := w.svc.db.Ent.Action.Query().Where(action.Ref(e.ActionRef)).WithPack().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil // request() reports the action gone
	}
	if err != nil {
		return nil, fmt.Errorf("loading action %s: %w", e.ActionRef, err)
	}
	if !RendersJinja(act) {
		return nil, nil
	}
	extra, err := w.ruleContext(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	r, err := w.svc.opts.Params(ctx, act, params, e.RequestedBy, extra)
	var pe *jinja.ParamError
	if errors.As(err, &pe) {
		return nil, &runner.PrepareError{Cause: pe.Msg}
	}
	if err != nil {
		return nil, fmt.Errorf("rendering parameters: %w", err)
	}
	schema, err := param.ParseSchema(act.Parameters)
	if err != nil {
		return nil, &runner.PrepareError{Cause: fmt.Sprintf("action %s has an invalid parameter schema: %v", act.Ref, err)}
	}
	if err := schema.Check(r.Params); err != nil {
		return nil, &runner.PrepareError{Cause: "invalid parameters after rendering: " + err.Error()}
	}
	secret := map[string]bool{}
	for _, n := range schema.SecretNames() {
		secret[n] = true
	}
	for _, n := range r.Tainted {
		secret[n] = true
	}
	shown := make(map[string]any, len(r.Params))
	if c.secrets == nil {
		c.secrets = map[string]any{}
	}
	for k, v := range r.Params {
		if secret[k] && v != nil {
			shown[k] = param.Redacted
			if _, ok := c.secrets[k]; ok || schema[k].Secret {
				c.secrets[k] = v
			}
			continue
		}
		shown[k] = v
	}
	// What the runner gets: every rendered value (request() overlays the
	// secrets on the shown ones, so a tainted value goes in secrets too).
	for _, k := range r.Tainted {
		c.secrets[k] = r.Params[k]
	}
	e.Parameters = shown
	if err := w.svc.db.Ent.Execution.UpdateOneID(e.ID).SetParameters(shown).Exec(ctx); err != nil {
		return nil, fmt.Errorf("recording rendered parameters: %w", err)
	}
	return r.Decrypted, nil
}

// ruleContext is what a rule's parameters read besides the action's: for
// an execution a rule caused, trigger (the event's payload) and rule.
func (w *Worker) ruleContext(ctx context.Context, id int) (map[string]any, error) {
	enf, err := w.svc.db.Ent.Enforcement.Query().
		Where(enforcement.HasExecutionsWith(execution.ID(id))).WithEvent().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading the enforcement of execution %d: %w", id, err)
	}
	payload := map[string]any{}
	if ev := enf.Edges.Event; ev != nil && ev.Payload != nil {
		payload = ev.Payload
	}
	rule := map[string]any{"ref": enf.RuleRef}
	if enf.RuleID != nil {
		rule["id"] = *enf.RuleID
	}
	return map[string]any{"trigger": jinja.ContextValue(payload), "rule": rule}, nil
}
